"""``depochain nemesis``: a fault-injection checker for a local 4-validator cluster.

- ``cluster``: the node processes (each in its own network namespace when it can be), their
  exits and logs;
- ``disk``: a real small filesystem (tmpfs) for the full-disk fault;
- ``load``: payers submitting transfers over the REST API, recording every acknowledgement;
- ``checks``: what is verified after each fault (exactly once, no fork, conservation,
  recovery, clean exits);
- ``faults``: the faults, each with its heal;
- ``run``: the sequence, the table and the JSON.

A tool, not part of the running node: no runtime module of ``node`` imports it.
"""

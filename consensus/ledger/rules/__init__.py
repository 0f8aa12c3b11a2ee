"""The rules of each transaction type: :mod:`.admin` (participants, instruments, accounts) and
:mod:`.tokens` (mint, redeem, transfer, freeze). Each ``apply_*`` validates, stages its writes
on the block view and returns the tx's events, or raises and the view drops the stage.
"""

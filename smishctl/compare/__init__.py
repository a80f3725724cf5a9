"""`smishctl compare`: runs side by side on paired items, with statistics and CI gates.

- pairing: load runs, check they are comparable, pair predictions by item_id
- stats: exact McNemar test and a paired bootstrap interval for the macro-F1 difference
- gates: parse and check `metric[label] OP value` expressions
- table: the rows every rendering shows (best value, deltas against the baseline)
- core: put it together into one JSON-serialisable comparison and its exit code
"""

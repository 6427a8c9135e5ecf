"""Bounds on the work a rule file can ask for, so hostile files fail with a message, never a crash.

Every walker over rules (parser, checker, compiler, engine, explain, show,
doc) recurses over the nesting of a rule, so the nesting is bounded where it
enters: the parse tree of a file, the expansion of fragments and frames into
one rule, and the chain of predicates an expression reads through.
"""

# Levels of the parse tree of one file (groups, nots, definitions...).
MAX_PARSE_DEPTH = 100
# Levels of one compiled rule: groups, fragments used inside fragments, and
# predicates read through other predicates, counted together.
MAX_NESTING = 64
# Constraints of one rule once its fragments are expanded (a fragment used
# twice is copied twice, so uses that double at each level grow exponentially).
MAX_RULE_CONSTRAINTS = 20_000

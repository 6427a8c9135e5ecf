"""The rule language: grammar, parser, compiler, checker and the shipped JWST rule files."""

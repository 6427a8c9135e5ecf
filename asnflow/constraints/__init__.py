"""The constraint model both the rule language and the engine build on.

``rows`` is the exposure a constraint reads, ``nodes`` the executable
constraint tree, ``state`` what one constraint remembers in one association,
``queue`` jwst's reprocessing queue and ``vocabulary`` the JWST words the
rule files define. Nothing here imports the language layer or the engine.
"""

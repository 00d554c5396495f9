"""The tested library of prompt, text and output transforms that task specs compose (HELM-style).

A transform is a pure function of (input, params, seeded generator) registered under a name, with the
parameters it accepts, so a task spec can be validated before anything runs.
"""

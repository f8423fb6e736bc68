"""Pre/post-processing shared by Triton's python models and the in-process reference path.

Nothing here imports torch or a Triton client: the same functions run inside Triton's python
stubs, in training/evaluation, and in benchmarks' "no serving" reference, so they can never drift
apart. The one module that needs the stub, ``triton_step`` (the base of every python model), is
imported by the models alone.
"""

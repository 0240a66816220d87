"""edgevc's shipped training checkpoints (distribution edgevc-checkpoints): the `.pt` release
files, the default voice's speaker vector and voicing.json, read by edgevc.export through
edgevc.export.checkpoint_io.shipped_dir(). Data only; nothing to import but the version."""

__version__ = "0.1.0"  # edgevc's version: released together

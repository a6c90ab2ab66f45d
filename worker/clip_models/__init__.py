"""open_clip model configurations shipped with Alexandria, registered with open_clip before a
model is created (by the node's clip runner and by the server's text tower).

``alexandria-tiny-clip`` is a tiny ViT and text transformer: randomly initialised or trained
for a few steps, it lets the tests run every figure path on a CPU in seconds. A deployment
names a real architecture (ViT-B-32) and its weights instead.
"""

from pathlib import Path

CONFIG_DIR = Path(__file__).resolve().parent
TINY_MODEL = "alexandria-tiny-clip"


def register_model_configs() -> None:
    """Make the shipped configurations known to open_clip (idempotent; needs open_clip)."""
    import open_clip

    if TINY_MODEL not in open_clip.list_models():
        open_clip.add_model_config(CONFIG_DIR)

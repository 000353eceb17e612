"""What a run shows its user: TensorBoard scalars and images, sample grids as PNG files."""

from ganlab.logging.figures import image_grid, save_png, scatter_plot
from ganlab.logging.tensorboard import RunLogger

__all__ = ["RunLogger", "image_grid", "save_png", "scatter_plot"]

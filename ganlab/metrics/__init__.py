"""Sample-quality metrics: the 2-D mode protocol, Fréchet distances, classifier- and Inception-based scores.

Nothing heavy is imported here; each metric module imports what it needs when it is used.
"""

from ganlab.metrics.frechet import frechet_distance, frechet_distance_of, gaussian_stats
from ganlab.metrics.toy import TOY_SAMPLES, kl_to_uniform, mode_histogram, mode_metrics

__all__ = ["TOY_SAMPLES", "frechet_distance", "frechet_distance_of", "gaussian_stats", "kl_to_uniform",
           "mode_histogram", "mode_metrics"]

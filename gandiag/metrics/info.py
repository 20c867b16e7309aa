"""Metric metadata: what each number means and which direction is better.

Reports, plots and the CLI read :data:`METRICS` (a :class:`gandiag.registry.Registry`
of :class:`MetricInfo`) instead of hard-coding titles and directions.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional

from ..registry import Registry


@dataclass(frozen=True)
class MetricInfo:
    """Static description of one metric.

    Attributes:
        name: registry key (e.g. "fid").
        title: full human-readable title.
        higher_is_better: True / False, or None when the number has no "better" direction
            (e.g. nearest-neighbour distances, which are read against a baseline).
        lower_bound: smallest possible value (None if unbounded).
        upper_bound: largest possible value (None if unbounded or data-dependent).
        description: one or two sentences for reports.
        paper: citation of the defining paper.
        family: group name ("prdc" for its four members), else the metric's own name.
        function: dotted path of the gandiag function computing it.
    """

    name: str
    title: str
    higher_is_better: Optional[bool]
    lower_bound: Optional[float]
    description: str
    paper: str
    upper_bound: Optional[float] = None
    family: str = ""
    function: str = ""


METRICS: Registry[MetricInfo] = Registry("metric")


def register_metric(info: MetricInfo) -> MetricInfo:
    """Add a :class:`MetricInfo` to :data:`METRICS` (refuses duplicates, validates the name)."""
    return METRICS.register(info.name, info, info.title)


def get_metric_info(name: str) -> MetricInfo:
    """Look a metric up by name; unknown names raise GandiagError listing the valid ones."""
    return METRICS.get(name)


def list_metrics() -> List[str]:
    return METRICS.names()


_PRDC_PAPER = ("Naeem, Oh, Uh, Choi, Yoo. Reliable Fidelity and Diversity Metrics for Generative Models. "
               "ICML 2020")
_FID_PAPER = ("Heusel, Ramsauer, Unterthiner, Nessler, Hochreiter. GANs Trained by a Two Time-Scale Update "
              "Rule Converge to a Local Nash Equilibrium. NeurIPS 2017")
_IS_PAPER = ("Salimans, Goodfellow, Zaremba, Cheung, Radford, Chen. Improved Techniques for Training GANs. "
             "NeurIPS 2016")

for _info in (
    MetricInfo("fid", "Fréchet Inception Distance", False, 0.0,
               "Distance between Gaussians fitted to InceptionV3 pool3 features of real and generated images; "
               "biased upwards for small N, compare only at equal N.", _FID_PAPER,
               family="fid", function="gandiag.metrics.frechet_distance"),
    MetricInfo("fid-inf", "FID extrapolated to infinite samples (FID∞)", False, None,
               "Intercept of a line fitted to FID on random subsets against 1/N; removes the sample-size bias "
               "of FID. Extrapolation can go slightly below 0.",
               "Chong, Forsyth. Effectively Unbiased FID and Inception Score and where to find them. CVPR 2020",
               family="fid", function="gandiag.metrics.fid_infinity"),
    MetricInfo("is", "Inception Score", True, 1.0,
               "exp of the mean KL between per-image class posteriors and their marginal; rewards confident "
               "and diverse ImageNet classes, ignores the real data.", _IS_PAPER, upper_bound=1000.0,
               family="is", function="gandiag.metrics.inception_score"),
    MetricInfo("kid", "Kernel Inception Distance", False, None,
               "Unbiased polynomial-kernel MMD^2 between Inception features, averaged over subsets; unbiased, "
               "so small negative values occur for near-identical distributions.",
               "Bińkowski, Sutherland, Arbel, Gretton. Demystifying MMD GANs. ICLR 2018",
               family="kid", function="gandiag.metrics.kid"),
    MetricInfo("precision", "Precision (k-NN manifold)", True, 0.0,
               "Fraction of generated samples inside some real sample's k-NN ball: fidelity.", _PRDC_PAPER,
               upper_bound=1.0, family="prdc", function="gandiag.metrics.prdc"),
    MetricInfo("recall", "Recall (k-NN manifold)", True, 0.0,
               "Fraction of real samples inside some generated sample's k-NN ball: diversity.", _PRDC_PAPER,
               upper_bound=1.0, family="prdc", function="gandiag.metrics.prdc"),
    MetricInfo("density", "Density", True, 0.0,
               "Average number of real k-NN balls containing each generated sample, divided by k; about 1 for "
               "matching distributions, robust to real outliers.", _PRDC_PAPER,
               family="prdc", function="gandiag.metrics.prdc"),
    MetricInfo("coverage", "Coverage", True, 0.0,
               "Fraction of real samples whose k-NN ball contains at least one generated sample.", _PRDC_PAPER,
               upper_bound=1.0, family="prdc", function="gandiag.metrics.prdc"),
    MetricInfo("parzen", "Parzen-window log-likelihood (nats)", True, None,
               "Mean test log-likelihood under a Gaussian KDE on generated samples, sigma chosen on validation "
               "data; the 2014 GAN paper's protocol, a poor likelihood estimate in high dimension.",
               "Goodfellow et al. Generative Adversarial Nets. NeurIPS 2014 (estimator: Breuleux, Bengio, "
               "Vincent 2011)", family="parzen", function="gandiag.metrics.parzen_log_likelihood"),
    MetricInfo("modes", "Modes covered", True, 0.0,
               "Number of classes a pretrained classifier finds at least threshold times among generated "
               "samples (10 for MNIST, 1000 for Stacked MNIST), with KL to the data's class histogram.",
               "Che, Li, Jacob, Bengio, Li. Mode Regularized GANs. ICLR 2017; Metz et al. Unrolled GANs. ICLR 2017",
               family="modes", function="gandiag.metrics.mode_coverage"),
    MetricInfo("neighbours", "Nearest-training-example distance", None, 0.0,
               "Distance from each generated sample to its nearest training example; values far below the "
               "real test-to-train distances indicate memorization.",
               "Goodfellow et al. Generative Adversarial Nets. NeurIPS 2014 (Fig. 2 nearest-neighbour column)",
               family="neighbours", function="gandiag.metrics.nearest_neighbours"),
    MetricInfo("mnist-is", "Inception Score with an MNIST classifier", True, 1.0,
               "The Inception Score computed with a small MNIST digit classifier instead of InceptionV3; "
               "at most 10, about 9.x for real MNIST digits.", _IS_PAPER, upper_bound=10.0,
               family="is", function="gandiag.metrics.inception_score"),
    MetricInfo("mnist-fid", "Fréchet distance in MNIST-classifier feature space", False, 0.0,
               "FID with the penultimate features of an MNIST classifier instead of InceptionV3; only "
               "comparable between runs using the same classifier weights.", _FID_PAPER,
               family="fid", function="gandiag.metrics.frechet_distance"),
):
    register_metric(_info)
del _info

"""Reference GAN trainer: the toolkit's proving ground (see reference_models/README or docs/)."""

"""EAR: emergent action representations — multi-task SAC with latent task embeddings."""

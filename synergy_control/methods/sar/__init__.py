"""SAR: synergistic action representations fitted from a play policy's activations."""

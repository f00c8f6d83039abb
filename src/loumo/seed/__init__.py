"""Demo and benchmark data (`loumo seed`)."""

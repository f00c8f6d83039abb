"""Demo and benchmark data (`loumo seed`).

What is where:
- `run.py`: runs every package's seed in one transaction (the CLI's entry point).
- `catalog.py`: zones, categories, shops, products with variants, and stock, inserted in bulk.
- `words.py`: the word lists that catalog data is generated from (the category tree in
  `catalog_tree.json`).
"""

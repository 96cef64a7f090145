"""One module per portal area; each renders what its JSON twin in the API returns."""

"""Task runners the programs call: train, evaluate and save one task end to end."""

"""The providers bundled with lendkit, each packaged as a third-party plugin would be."""

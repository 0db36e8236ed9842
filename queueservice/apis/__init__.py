"""API descriptions (`<api>_<version>.api`) and their implementations (`<api>_<version>.py`)."""

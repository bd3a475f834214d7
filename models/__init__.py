"""The trained models that ship with digitbot (data only: the files beside this one)."""

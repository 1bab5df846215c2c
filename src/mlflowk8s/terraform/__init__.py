"""Terraform machinery for every Terraform target: runner, workspace, rollout, retries.

Nothing here knows a target: the roots, their state prefixes and their inputs are given by
the target that uses it.
"""

"""Tokenway operator: reconciles Tokenway custom resources into Deployments and gateway config."""

"""Backend plugins shipped with ofa_deploy, one subpackage per runtime, importable as
ofa_deploy.plugins.<name> and registered under the entry-point group `ofa_deploy.backends`."""

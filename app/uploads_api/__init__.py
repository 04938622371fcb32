"""Raw uploads kept for audit (statements, withdrawal activity, registry imports), read back by officers,
auditors and the uploading bank."""

"""The adapters of the ``FileStore`` port (a local directory, S3) and the thumbnailer."""

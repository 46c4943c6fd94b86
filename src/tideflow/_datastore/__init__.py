"""Content-addressed storage of artifact blobs."""

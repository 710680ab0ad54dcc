"""Response compression with zstd, brotli or gzip, negotiated from Accept-Encoding."""

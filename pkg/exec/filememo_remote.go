package exec

// FileHash is the memoised file hash ("sha256:<hex>") the step cache keys
// on, for callers outside the engine that name workspace files by content
// (remote sync): a file whose size, mtime, ctime, inode and device did not
// change since it was hashed is not read again.
func (c *StepCache) FileHash(path string) (string, error) { return c.hashFile(path) }

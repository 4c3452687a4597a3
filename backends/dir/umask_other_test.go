//go:build !unix

package dir

func setUmask(mask int) int { return 0 }

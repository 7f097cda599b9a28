package main

import "flag"

// authFlags are the flags of a command that signs its write requests
// (RFC 9421) for a DID; load returns the signer.
type authFlags struct {
	path, keyid *string
}

// addAuthFlags registers -auth-key and -auth-keyid; def is the default key
// file (often the command's own -key).
func addAuthFlags(fs *flag.FlagSet, def string) authFlags {
	return authFlags{
		path:  fs.String("auth-key", def, "key file that signs the API request; its DID needs the operation's role"),
		keyid: fs.String("auth-keyid", "", "DID URL of the -auth-key method, for a registered DID (default: the key's own did:polity:<address>#key-0)"),
	}
}

// load reads the signing key; fallback is used when -auth-key is empty.
func (f authFlags) load(fallback string) (*authKey, error) {
	path := *f.path
	if path == "" {
		path = fallback
	}
	return loadAuthKey(path, *f.keyid)
}

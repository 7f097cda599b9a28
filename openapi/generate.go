// Package openapi holds Polity's OpenAPI 3 document, the single source of
// truth for the HTTP API, and the server code generated from it.
package openapi

//go:generate go tool oapi-codegen -config config.yaml polity.yaml

// Package apitest drives the devices area of the HTTP API (package api) over
// a real registry. It lives apart from package devices so that the devices
// tests build without the API and everything it links.
package apitest

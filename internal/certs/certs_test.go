package certs

import (
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"
)

func TestEnsureMakesACertificateForEveryHostSignedByItsCA(t *testing.T) {
	dir := t.TempDir()
	hosts := []string{"api.clevertap.com", "in1.api.clevertap.com", "collect.piano.test", "127.0.0.1"}
	pair, err := Ensure(dir, hosts)
	if err != nil {
		t.Fatal(err)
	}
	pool, err := Pool(dir)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hosts {
		if _, err := leaf.Verify(x509.VerifyOptions{DNSName: h, Roots: pool}); err != nil {
			t.Errorf("%s: %v", h, err)
		}
	}
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: "api.example.com", Roots: pool}); err == nil {
		t.Error("the certificate must not cover other hosts")
	}
	ca, _ := os.ReadFile(filepath.Join(dir, CAFile))
	again, err := Ensure(dir, hosts[:2])
	if err != nil || string(again.Certificate[0]) != string(pair.Certificate[0]) {
		t.Fatalf("a certificate that covers the hosts is kept: %v", err)
	}
	if _, err := Ensure(dir, append(hosts, "sk1.api.clevertap.com")); err != nil {
		t.Fatal(err)
	}
	if ca2, _ := os.ReadFile(filepath.Join(dir, CAFile)); string(ca2) != string(ca) {
		t.Fatal("a new host remakes the server certificate, never the CA others trust")
	}
}

package bench

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
)

func TestWriteReportKeepsTheScaleSection(t *testing.T) {
	g := NewWithT(t)
	path := filepath.Join(t.TempDir(), "PERFORMANCE.md")
	g.Expect(os.WriteFile(path, []byte(ReplaceScaleSection("old report\n", "scale table\n")), 0o644)).To(Succeed())
	g.Expect(WriteReport(path, &Results{})).To(Succeed())
	data, err := os.ReadFile(path)
	g.Expect(err).NotTo(HaveOccurred())
	doc := string(data)
	g.Expect(doc).NotTo(ContainSubstring("old report"))
	g.Expect(doc).To(ContainSubstring(ScaleSectionStart + "\nscale table\n" + ScaleSectionEnd))
	g.Expect(strings.Count(doc, ScaleSectionStart)).To(Equal(1))

	// A new section replaces the old one.
	doc = ReplaceScaleSection(doc, "new table\n")
	g.Expect(doc).To(ContainSubstring(ScaleSectionStart + "\nnew table\n" + ScaleSectionEnd))
	g.Expect(doc).NotTo(ContainSubstring("scale table"))
}

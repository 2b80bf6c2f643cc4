// Pv's own documents are the only ones its files may cite: every `*.md` a source, scenario or document file of
// the repository names must exist in the repository (beside the citing file, under docs/, or at the root).
using System.Text.RegularExpressions;

namespace Pv.Scenarios.Tests;

public sealed partial class DocReferenceTests
{
    [GeneratedRegex(@"[A-Za-z0-9_./-]*[A-Za-z0-9_-]\.md\b")]
    private static partial Regex MarkdownName();

    [Fact]
    public void Every_cited_markdown_document_is_in_the_repository()
    {
        string root = Fixtures.RepoRoot;
        var dangling = new List<string>();
        foreach (var file in Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories))
        {
            string rel = Path.GetRelativePath(root, file);
            if (rel.Split(Path.DirectorySeparatorChar).Any(p => p is "bin" or "obj" or "artifacts" or ".git" or "TestResults")) continue;
            if (Path.GetExtension(file) is not (".cs" or ".md" or ".pvl" or ".json" or ".props" or ".csproj")) continue;
            foreach (Match m in MarkdownName().Matches(File.ReadAllText(file)))
            {
                // Only a file inside the repository counts: a path that climbs out of it (../shared/...) is dangling.
                bool found = new[] { Path.GetDirectoryName(file)!, Path.Combine(root, "docs"), root }
                    .Select(dir => Path.GetFullPath(Path.Combine(dir, m.Value)))
                    .Any(full => full.StartsWith(root + Path.DirectorySeparatorChar, StringComparison.Ordinal) && File.Exists(full));
                if (!found) dangling.Add($"{rel}: {m.Value}");
            }
        }
        Assert.True(dangling.Count == 0, "documents cited but not in the repository:\n" + string.Join("\n", dangling));
    }
}

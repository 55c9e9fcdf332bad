using System.Text.RegularExpressions;

namespace Paxos.Tests.Docs;

/// <summary>
/// What ships and what a reader of the repository sees cite only documents the repository contains: the
/// team's working notes are not part of it, so a citation of one points nowhere.
/// </summary>
public partial class DocumentCitationTests
{
    private static readonly string[] NotInTheRepository = ["DESIGN.md", "PROTOCOL.md", "TESTING.md", "STYLE.md"];

    [Test]
    public void Sources_docs_and_readmes_cite_no_document_the_repository_lacks()
    {
        var citations = new List<string>();
        foreach (var file in FilesToCheck())
        {
            var lines = File.ReadAllLines(file);
            for (var i = 0; i < lines.Length; i++)
            {
                foreach (var name in NotInTheRepository)
                {
                    if (lines[i].Contains(name, StringComparison.Ordinal))
                    {
                        citations.Add($"{Path.GetRelativePath(RepositoryFiles.Root, file)}:{i + 1}: {name}");
                    }
                }
            }
        }

        string.Join('\n', citations).Should().BeEmpty("these documents are not in the repository: cite docs/ or say the point where it is needed");
    }

    [Test]
    public void The_check_reads_the_sources_docs_and_readme()
    {
        var files = FilesToCheck().Select(f => Path.GetRelativePath(RepositoryFiles.Root, f).Replace('\\', '/')).ToList();

        files.Should().Contain("README.md").And.Contain("docs/protocol-notes.md").And.Contain("src/Paxos.Core/Protocol/PaxosReplica.cs");
        files.Should().NotContain(f => BuildOutput().IsMatch(f));
    }

    /// <summary>Every file under src/ and docs/ (build output aside), and every README.md outside tests/.</summary>
    private static IEnumerable<string> FilesToCheck()
    {
        var root = RepositoryFiles.Root;
        var files = new[] { "src", "docs" }
            .Select(folder => Path.Combine(root, folder))
            .Where(Directory.Exists)
            .SelectMany(folder => Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories))
            .Concat(Directory.EnumerateFiles(root, "README.md", SearchOption.AllDirectories)
                .Where(f => !Path.GetRelativePath(root, f).Replace('\\', '/').StartsWith("tests/", StringComparison.Ordinal)));
        return files
            .Where(f => !BuildOutput().IsMatch(Path.GetRelativePath(root, f).Replace('\\', '/')))
            .Distinct()
            .Order(StringComparer.Ordinal);
    }

    [GeneratedRegex(@"(^|/)(bin|obj|artifacts|TestResults)/")]
    private static partial Regex BuildOutput();
}

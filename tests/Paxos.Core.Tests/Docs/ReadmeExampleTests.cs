using System.Reflection;
using System.Runtime.Loader;
using System.Text.RegularExpressions;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace Paxos.Tests.Docs;

/// <summary>
/// Every C# block of the README is compiled as a new user's console project would compile it (implicit usings,
/// nullable on), against the packages' assemblies, and a block that is a program is run: an example that does
/// not build or does not work is a bug. A block preceded by <c>&lt;!-- readme-test: compile only --&gt;</c> is
/// compiled but not run (it needs other machines). A <c>Console.WriteLine(…); // text</c> line says what the
/// program prints, and the run must print exactly those lines.
/// </summary>
public partial class ReadmeExampleTests
{
    private const string CompileOnly = "<!-- readme-test: compile only -->";

    // What `dotnet new console` puts in scope (ImplicitUsings for Microsoft.NET.Sdk).
    private const string ImplicitUsings = """
        global using System;
        global using System.Collections.Generic;
        global using System.IO;
        global using System.Linq;
        global using System.Net.Http;
        global using System.Threading;
        global using System.Threading.Tasks;
        """;

    private static readonly TimeSpan RunTimeout = TimeSpan.FromSeconds(60);

    public static IEnumerable<TestCaseData> Blocks() =>
        ReadBlocks(File.ReadAllText(RepositoryFiles.PathOf("README.md")))
            .Select(b => new TestCaseData(b).SetArgDisplayNames($"line {b.Line}"));

    [TestCaseSource(nameof(Blocks))]
    public async Task A_csharp_block_of_the_readme_compiles_and_runs(ReadmeBlock block)
    {
        var assembly = Compile(block);
        if (block.CompileOnly || assembly.EntryPoint is null)
        {
            return;
        }

        var printed = await Run(assembly);

        printed.Should().Equal(block.ExpectedOutput, $"the README's block at line {block.Line} says what it prints");
    }

    [Test]
    public void The_readme_has_a_runnable_example()
    {
        ReadBlocks(File.ReadAllText(RepositoryFiles.PathOf("README.md"))).Should().Contain(b => !b.CompileOnly && b.ExpectedOutput.Count > 0);
    }

    [Test]
    public void A_class_before_the_top_level_statements_is_reported()
    {
        // The mistake the README once made: CS8803, top-level statements must precede type declarations.
        var block = new ReadmeBlock(1, """
            sealed class Counter { }
            Console.WriteLine(1); // 1
            """, CompileOnly: false, ExpectedOutput: ["1"]);

        FluentActions.Invoking(() => Compile(block)).Should().Throw<InvalidOperationException>().WithMessage("*CS8803*");
    }

    /// <summary>The ```csharp blocks of a markdown text, with the line each starts on.</summary>
    internal static IEnumerable<ReadmeBlock> ReadBlocks(string markdown)
    {
        foreach (Match match in CSharpBlock().Matches(markdown))
        {
            var line = markdown.AsSpan(0, match.Index).Count('\n') + 1;
            var before = markdown[..match.Index].TrimEnd();
            var code = match.Groups["code"].Value;
            var expected = ExpectedLine().Matches(code).Select(m => m.Groups["text"].Value.Trim()).ToList();
            yield return new ReadmeBlock(line, code, before.EndsWith(CompileOnly, StringComparison.Ordinal), expected);
        }
    }

    private static Assembly Compile(ReadmeBlock block)
    {
        var parse = new CSharpParseOptions(LanguageVersion.Latest);
        var trees = new[]
        {
            CSharpSyntaxTree.ParseText(ImplicitUsings, parse, path: "GlobalUsings.cs"),
            CSharpSyntaxTree.ParseText(block.Code, parse, path: $"README.md@{block.Line}"),
        };
        var hasStatements = trees[1].GetCompilationUnitRoot().Members.Any(m => m is Microsoft.CodeAnalysis.CSharp.Syntax.GlobalStatementSyntax);
        var compilation = CSharpCompilation.Create(
            $"ReadmeBlock{block.Line}",
            trees,
            References(),
            new CSharpCompilationOptions(hasStatements ? OutputKind.ConsoleApplication : OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable));

        using var image = new MemoryStream();
        var result = compilation.Emit(image);
        var problems = result.Diagnostics.Where(d => d.Severity >= DiagnosticSeverity.Warning).Select(d => d.ToString()).ToList();
        if (problems.Count > 0)
        {
            // Not Assert.Fail: NUnit would record that as this test's failure even where a test expects it.
            throw new InvalidOperationException($"the README's C# block at line {block.Line} does not compile cleanly:\n{string.Join('\n', problems)}");
        }

        // A context of its own, so the example can be unloaded; it shares Paxos.Core with the tests.
        var context = new AssemblyLoadContext($"README.md@{block.Line}", isCollectible: true);
        image.Position = 0;
        return context.LoadFromStream(image);
    }

    /// <summary>What a user's project sees: the shared framework, the Paxos packages and their dependencies (the
    /// Microsoft.Extensions assemblies); not the tests or their tools.</summary>
    private static IEnumerable<MetadataReference> References()
    {
        var framework = Path.GetDirectoryName(typeof(object).Assembly.Location)!;
        return ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!)
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Where(path => Path.GetDirectoryName(path) == framework || IsPackageAssembly(Path.GetFileName(path)))
            .Select(path => MetadataReference.CreateFromFile(path));
    }

    private static bool IsPackageAssembly(string fileName) =>
        fileName is "Paxos.Core.dll" or "Paxos.Transport.Udp.dll" or "Paxos.Simulation.dll"
        || fileName.StartsWith("Microsoft.Extensions.", StringComparison.Ordinal);

    private static async Task<List<string>> Run(Assembly assembly)
    {
        var output = new StringWriter();
        var previous = Console.Out;
        Console.SetOut(output);
        try
        {
            var entryPoint = assembly.EntryPoint!;
            var arguments = entryPoint.GetParameters().Length == 0 ? null : new object[] { Array.Empty<string>() };
            await Task.Run(() =>
            {
                var returned = entryPoint.Invoke(null, arguments);
                return returned is Task task ? task : Task.CompletedTask;
            }).WaitAsync(RunTimeout);
        }
        finally
        {
            Console.SetOut(previous);
        }

        return output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd('\r')).ToList();
    }

    [GeneratedRegex(@"^```csharp[ \t]*\r?\n(?<code>.*?)^```", RegexOptions.Multiline | RegexOptions.Singleline)]
    private static partial Regex CSharpBlock();

    [GeneratedRegex(@"Console\.WriteLine\(.*\);[ \t]*//(?<text>[^\r\n]*)")]
    private static partial Regex ExpectedLine();
}

/// <summary>One ```csharp block of a markdown file.</summary>
/// <param name="Line">The line of the opening fence.</param>
/// <param name="Code">The block's text.</param>
/// <param name="CompileOnly">Whether the block is marked to be compiled but not run.</param>
/// <param name="ExpectedOutput">The lines the program says it prints.</param>
public sealed record ReadmeBlock(int Line, string Code, bool CompileOnly, IReadOnlyList<string> ExpectedOutput)
{
    /// <inheritdoc/>
    public override string ToString() => $"README.md line {Line}";
}

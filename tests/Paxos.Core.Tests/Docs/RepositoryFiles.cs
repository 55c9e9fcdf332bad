namespace Paxos.Tests.Docs;

/// <summary>Finds the files of the repository the tests were built from.</summary>
internal static class RepositoryFiles
{
    /// <summary>The repository's root: the first folder above the test's output that holds the solution. The
    /// output folder is used rather than the source path the compiler recorded, which CI builds map to
    /// <c>/_/</c>.</summary>
    public static string Root { get; } = FindRoot();

    public static string PathOf(string relativePath) => Path.Combine(Root, relativePath);

    private static string FindRoot()
    {
        for (var directory = new DirectoryInfo(TestContext.CurrentContext.TestDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Paxos.Core.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException($"no folder above {TestContext.CurrentContext.TestDirectory} holds Paxos.Core.sln");
    }
}

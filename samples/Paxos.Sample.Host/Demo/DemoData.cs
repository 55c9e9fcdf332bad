using System.Globalization;

namespace Paxos.Sample.Demo;

/// <summary>
/// Where the demo keeps its cluster between runs: one data directory per replica (<c>ROOT/r0</c>, <c>ROOT/r1</c>, …)
/// and <c>ROOT/demo.txt</c>, which records the cluster's size and how many runs it has had. The run number gives each
/// run's writers client ids of their own: a replica remembers every client's last timestamp, so a writer that
/// started again at timestamp 1 under an old id would be refused as stale.
/// </summary>
/// <param name="Root">The root directory, as a full path.</param>
/// <param name="Run">This run's number, from 1.</param>
/// <param name="ReplicaDirectories">Each replica's data directory.</param>
/// <param name="Rebuild">Which replicas lost their directory while the cluster existed: they start with
/// <c>--rebuild</c>, and learn their state from the others before they vote again.</param>
internal sealed record DemoData(string Root, int Run, string[] ReplicaDirectories, bool[] Rebuild)
{
    /// <summary>The root when <c>--data-dir</c> is not given, relative to the current directory.</summary>
    public const string DefaultRoot = "paxos-sample-data";

    private const string StateFileName = "demo.txt";

    /// <summary>Whether the replicas had run before, and resume from their logs.</summary>
    public bool Resumed => Run > 1;

    /// <summary>Opens (creating when missing) the root for a cluster of <paramref name="replicas"/>, and counts this run.</summary>
    /// <exception cref="UsageException">The root holds a cluster of another size, or one that lost a majority of its
    /// replicas' directories (it cannot be rebuilt: no majority remembers what was promised).</exception>
    public static DemoData Open(string root, int replicas)
    {
        root = Path.GetFullPath(root);
        Directory.CreateDirectory(root);
        var (size, lastRun) = ReadState(root);
        if (size is { } existing && existing != replicas)
        {
            throw new UsageException($"{root} holds a cluster of {existing} replicas; run with --replicas {existing}, or give another --data-dir (or delete that directory to start over).");
        }

        var directories = Enumerable.Range(0, replicas).Select(r => Path.Combine(root, string.Create(CultureInfo.InvariantCulture, $"r{r}"))).ToArray();
        var empty = directories.Select(IsEmpty).ToArray();
        var lost = empty.Count(e => e);

        // All empty is a new cluster; a minority empty lost its disks and rebuilds from the majority.
        var rebuild = lost < replicas ? empty : new bool[replicas];
        if (lost < replicas && lost > (replicas - 1) / 2)
        {
            throw new UsageException($"{root}: {lost} of {replicas} replica directories are missing or empty; a majority lost its state and the cluster cannot be rebuilt. Delete {root} to start over.");
        }

        var run = lastRun + 1;
        WriteState(root, replicas, run);
        return new DemoData(root, run, directories, rebuild);
    }

    /// <summary>The arguments replica <paramref name="replica"/> starts with: its data directory, and <c>--rebuild</c>
    /// when its directory was lost.</summary>
    public IReadOnlyList<string> Arguments(int replica) =>
        Rebuild[replica] ? ["--data-dir", ReplicaDirectories[replica], "--rebuild"] : ["--data-dir", ReplicaDirectories[replica]];

    /// <summary>A directory with neither a view file nor a log segment holds no state.</summary>
    private static bool IsEmpty(string directory) =>
        !Directory.Exists(directory)
        || (!File.Exists(Path.Combine(directory, "view")) && !Directory.EnumerateFiles(directory, "wal-*.log").Any());

    private static (int? Replicas, int Run) ReadState(string root)
    {
        var path = Path.Combine(root, StateFileName);
        if (!File.Exists(path))
        {
            return (null, 0);
        }

        int? replicas = null;
        var run = 0;
        foreach (var line in File.ReadLines(path))
        {
            var equals = line.IndexOf('=', StringComparison.Ordinal);
            if (equals > 0 && int.TryParse(line.AsSpan(equals + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var value))
            {
                switch (line[..equals].Trim())
                {
                    case "replicas":
                        replicas = value;
                        break;
                    case "run":
                        run = value;
                        break;
                    default:
                        break;
                }
            }
        }

        return (replicas, run);
    }

    /// <summary>Replaces the state file whole (write, then rename), so that an interrupted write leaves the old one.</summary>
    private static void WriteState(string root, int replicas, int run)
    {
        var path = Path.Combine(root, StateFileName);
        var temp = path + ".tmp";
        File.WriteAllText(temp, string.Create(CultureInfo.InvariantCulture,
            $"# The Paxos.Core sample's demo cluster: its size, and how many runs it has had (run n's writers use client ids n001, n002, ...).\nreplicas={replicas}\nrun={run}\n"));
        File.Move(temp, path, overwrite: true);
    }
}

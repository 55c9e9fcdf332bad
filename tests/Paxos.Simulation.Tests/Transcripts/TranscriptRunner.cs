using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using Paxos.Messages;

namespace Paxos.Simulation.Tests.Transcripts;

/// <summary>
/// Runs the scenario transcripts in <c>testdata/</c>. A transcript is a list of commands (<c>&gt; tick all 3</c>)
/// each followed by the exact output it must produce; comments (<c>#</c>) and blank lines are kept. Set
/// <c>PAXOS_REGENERATE_TRANSCRIPTS=1</c> to rewrite the expected output from what the code does now — then
/// read the diff: the transcript is the review.
/// </summary>
/// <remarks>
/// Commands: <c>cluster N [Option=value …]</c> (<c>RecordViolations=true</c> prints safety violations instead of
/// failing, for transcripts that document a known one; <c>ShowBatches=true</c> prints each replica's output batches,
/// see <see cref="OutputBatch.ToString"/>), <c>tick</c>, <c>run</c>, <c>submit</c>, <c>status</c>,
/// <c>counter</c>, <c>queue</c>; the network: <c>deliver</c>, <c>drop … [quiet]</c>, <c>hold</c>, <c>release</c>,
/// <c>duplicate</c> (each with a filter, see <see cref="Filter"/>), <c>inject</c>, <c>partition</c>, <c>cut</c>,
/// <c>heal</c>; the replicas: <c>crash R [lose-unsynced]</c>, <c>restart</c>, <c>wipe</c>, <c>damage</c>,
/// <c>slowdisk R ticks</c>. A payload written <c>N*text</c> is <c>text</c> repeated N times.
/// </remarks>
public class TranscriptRunner
{
    private static readonly string SourceDirectory = Path.Combine(SourceDir(), "testdata");

    private static IEnumerable<string> Transcripts() =>
        Directory.GetFiles(Path.Combine(TestContext.CurrentContext?.TestDirectory ?? AppContext.BaseDirectory, "Transcripts", "testdata"), "*.txt")
            .Select(Path.GetFileName)
            .Order(StringComparer.Ordinal)!;

    [TestCaseSource(nameof(Transcripts))]
    public void Transcript(string name)
    {
        var source = Path.Combine(SourceDirectory, name);
        var expected = File.ReadAllText(File.Exists(source) ? source : Path.Combine(TestContext.CurrentContext.TestDirectory, "Transcripts", "testdata", name));
        var actual = Run(expected);
        if (Environment.GetEnvironmentVariable("PAXOS_REGENERATE_TRANSCRIPTS") == "1" && File.Exists(source))
        {
            File.WriteAllText(source, actual);
            return;
        }

        actual.Should().Be(expected, $"the transcript {name} must reproduce exactly (PAXOS_REGENERATE_TRANSCRIPTS=1 rewrites it)");
    }

    /// <summary>Executes the commands of a transcript and returns the transcript with fresh output.</summary>
    internal static string Run(string transcript)
    {
        var output = new StringBuilder();
        TranscriptCluster? cluster = null;
        foreach (var raw in transcript.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n'))
        {
            if (raw.StartsWith("> ", StringComparison.Ordinal))
            {
                output.Append(raw).Append('\n');
                cluster = Execute(cluster, raw[2..].Split(' ', StringSplitOptions.RemoveEmptyEntries), output);
            }
            else if (raw.StartsWith('#') || raw.Length == 0)
            {
                output.Append(raw).Append('\n');
            }
        }

        // The split leaves one empty string after the final newline; keep the file's single trailing newline.
        return output.ToString().TrimEnd('\n') + "\n";
    }

    private static TranscriptCluster? Execute(TranscriptCluster? cluster, string[] words, StringBuilder output)
    {
        var command = words[0];
        if (command == "cluster")
        {
            // RecordViolations=true: a broken safety property is printed (and the run goes on) instead of failing the
            // test, for transcripts whose expected output documents a known violation.
            // ShowBatches=true: every batch a replica produces is printed as it is taken (what it persists, whether it
            // syncs, what it sends before and after), for transcripts about durability.
            var recordViolations = words.Contains("RecordViolations=true");
            var showBatches = words.Contains("ShowBatches=true");
            var options = Options(words.Skip(2).Where(w => !w.StartsWith("RecordViolations=", StringComparison.Ordinal) && !w.StartsWith("ShowBatches=", StringComparison.Ordinal)));
            return new TranscriptCluster(int.Parse(words[1], CultureInfo.InvariantCulture), options, output, recordViolations, showBatches);
        }

        if (cluster is null)
        {
            throw new InvalidOperationException("A transcript starts with 'cluster N'.");
        }

        switch (command)
        {
            case "tick":
                cluster.Tick(Replicas(cluster, words.ElementAtOrDefault(1) ?? "all"), words.Length > 2 ? Int(words[2]) : 1);
                break;
            case "deliver":
                cluster.Deliver(Filter(words.ElementAtOrDefault(1) ?? "all"), words.Length > 2 ? Int(words[2]) : int.MaxValue);
                break;
            case "drop":
                cluster.Drop(Filter(words.ElementAtOrDefault(1) ?? "all"), words.Length > 2 && words[2] != "quiet" ? Int(words[2]) : int.MaxValue, words.Contains("quiet"));
                break;
            case "hold":
                cluster.Hold(Filter(words.ElementAtOrDefault(1) ?? "all"));
                break;
            case "duplicate":
                cluster.Duplicate(Filter(words.ElementAtOrDefault(1) ?? "all"));
                break;
            case "release":
                cluster.Release(Filter(words.ElementAtOrDefault(1) ?? "all"));
                break;
            case "inject":
                var route = words[1].Split("->");
                cluster.Inject(new ReplicaId(Int(route[1])), Message(new ReplicaId(Int(route[0])), words[2], long.Parse(words[3], CultureInfo.InvariantCulture)));
                break;
            case "queue":
                cluster.PrintQueue();
                break;
            case "partition":
                foreach (var replica in Replicas(cluster, words[1]))
                {
                    for (var other = 0; other < cluster.ClusterSize; other++)
                    {
                        cluster.Cut(replica.Value, other, true);
                        cluster.Cut(other, replica.Value, true);
                    }
                }

                break;
            case "cut":
                var link = words[1].Split("->");
                cluster.Cut(Int(link[0]), Int(link[1]), true);
                break;
            case "heal":
                cluster.Heal();
                break;
            case "submit":
                cluster.Submit(new ReplicaId(Int(words[1])), Update(words[2], words.ElementAtOrDefault(3) ?? string.Empty));
                break;
            case "crash":
                cluster.Crash(new ReplicaId(Int(words[1])), words.Contains("lose-unsynced"));
                break;
            case "slowdisk":
                cluster.SetSyncDelay(new ReplicaId(Int(words[1])), Int(words[2]));
                break;
            case "restart":
                cluster.Restart(new ReplicaId(Int(words[1])));
                break;
            case "wipe":
                cluster.Wipe(new ReplicaId(Int(words[1])));
                break;
            case "damage":
                cluster.Damage(new ReplicaId(Int(words[1])));
                break;
            case "run":
                cluster.Run(Int(words[1]), words.Contains("quiet"));
                break;
            case "status":
                cluster.PrintStatus(Replicas(cluster, words.ElementAtOrDefault(1) ?? "all"));
                break;
            case "counter":
                cluster.PrintCounter(new ReplicaId(Int(words[1])), words[2]);
                break;
            default:
                throw new InvalidOperationException($"Unknown transcript command '{command}'.");
        }

        return cluster;
    }

    /// <summary>Transcript defaults: every periodic timer long, so that only what a scenario ticks for happens.</summary>
    private static PaxosOptions Options(IEnumerable<string> overrides)
    {
        var options = new PaxosOptions
        {
            ProgressTimeoutTicks = 10,
            MaxProgressTimeoutTicks = 40,
            LeaderHeartbeatTicks = 4,
            ViewChangeRetransmitTicks = 100,
            VcProofIntervalTicks = 100,
            PrepareRetransmitTicks = 100,
            ProposalRetransmitTicks = 100,
            UpdateRetransmitTicks = 100,
            AliveIntervalTicks = 100,
            CatchUpDelayTicks = 0,
            CatchUpTimeoutTicks = 100,
            WindowSlots = 64,
            MaxBatchUpdates = 8,
        };

        foreach (var pair in overrides)
        {
            var parts = pair.Split('=');
            var property = typeof(PaxosOptions).GetProperty(parts[0]) ?? throw new InvalidOperationException($"Unknown option '{parts[0]}'.");
            property.SetValue(options, property.PropertyType == typeof(bool) ? bool.Parse(parts[1]) : Int(parts[1]));
        }

        return options;
    }

    /// <summary>A crafted message, for scenarios where a replica misbehaves (a flaky one shouting views).</summary>
    private static PaxosMessage Message(ReplicaId sender, string type, long view) => type switch
    {
        "ViewChange" => new ViewChange(sender, new ViewNumber(view)),
        "VcProof" => new VcProof(sender, new ViewNumber(view)),
        _ => throw new InvalidOperationException($"inject does not build '{type}'."),
    };

    private static ClientUpdate Update(string name, string payload)
    {
        // A payload written N*text is text repeated N times: large updates without a long line.
        var star = payload.IndexOf('*', StringComparison.Ordinal);
        if (star > 0 && int.TryParse(payload.AsSpan(0, star), NumberStyles.None, CultureInfo.InvariantCulture, out var times))
        {
            payload = string.Concat(Enumerable.Repeat(payload[(star + 1)..], times));
        }

        // c7#3: client 7, timestamp 3.
        var parts = name[1..].Split('#');
        return new ClientUpdate(new ClientId(long.Parse(parts[0], CultureInfo.InvariantCulture)), long.Parse(parts[1], CultureInfo.InvariantCulture), Encoding.UTF8.GetBytes(payload));
    }

    private static List<ReplicaId> Replicas(TranscriptCluster cluster, string spec) =>
        spec == "all"
            ? Enumerable.Range(0, cluster.ClusterSize).Select(i => new ReplicaId(i)).ToList()
            : spec.Split(',').Select(s => new ReplicaId(Int(s))).ToList();

    /// <summary>Which queued messages a command means: <c>all</c>, or a link <c>from-&gt;to</c> (either end may be
    /// <c>*</c>), optionally followed by <c>:</c> and message types separated by commas (<c>2-&gt;*:Prepare,Alive</c>).</summary>
    private static Func<TranscriptCluster.Queued, bool> Filter(string spec)
    {
        var typed = spec.Split(':');
        var types = typed.Length > 1 ? typed[1].Split(',') : null;
        bool OfType(TranscriptCluster.Queued q) => types is null || types.Contains(q.Message.GetType().Name);
        if (typed[0] == "all")
        {
            return OfType;
        }

        var link = typed[0].Split("->");
        return q => (link[0] == "*" || q.From.Value == Int(link[0])) && (link[1] == "*" || q.To.Value == Int(link[1])) && OfType(q);
    }

    private static int Int(string text) => int.Parse(text, CultureInfo.InvariantCulture);

    private static string SourceDir([CallerFilePath] string path = "") => Path.GetDirectoryName(path)!;
}

using System.Diagnostics;
using System.Diagnostics.Metrics;
using Paxos.Protocol;
using Paxos.Storage;

namespace Paxos.Hosting;

/// <summary>
/// A node's instruments, on the meter <see cref="MeterName"/> from the host's <see cref="IMeterFactory"/>, each
/// measurement tagged with the replica id. Counts the replica keeps anyway (<see cref="ReplicaCounters"/>, the inbox)
/// are observed only when a listener collects them, through <see cref="PaxosNode.GetCounters"/>, so they cost the
/// loop nothing. The three histograms are recorded as things happen, each only while its instrument is enabled.
/// A node built without a meter factory has none of this (its <c>_metrics</c> is null).
/// </summary>
internal sealed class PaxosMetrics
{
    public const string MeterName = "Paxos.Core";

    /// <summary>Latencies from 100 µs to 10 s: a submission on one machine with no fsync, up to an election.</summary>
    private static readonly double[] SecondsBuckets = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    /// <summary>Powers of two up to the largest batch a Proposal can carry, and a few Proposals beyond.</summary>
    private static readonly int[] UpdateBuckets = [0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384];

    private static readonly DropReason[] DropReasons = Enum.GetValues<DropReason>().Where(r => r != DropReason.None).ToArray();

    /// <summary>How long one copy of the replica's counters serves the observable instruments: a collection reads
    /// seven of them one after another, and one copy (which the node's loop hands over) serves them all.</summary>
    private static readonly TimeSpan CountersReuse = TimeSpan.FromMilliseconds(50);

    private readonly PaxosNode _node;
    private readonly Lock _countersGate = new();
    private ReplicaCounters? _counters;
    private long _countersTakenAt;

    private readonly Histogram<double> _submitDuration;
    private readonly Histogram<double> _fsyncDuration;
    private readonly Histogram<int> _fsyncUpdates;

    // Boxed once, so that recording a measurement allocates nothing.
    private readonly KeyValuePair<string, object?> _replicaTag;
    private readonly KeyValuePair<string, object?>[] _failureTags;
    private readonly KeyValuePair<string, object?>[] _dropTags;

    /// <param name="node">The node whose replica, inbox and submissions are measured.</param>
    /// <param name="storage">The file log's counters, whose fsyncs are timed; null for other stores.</param>
    /// <param name="meterFactory">Where the meter comes from; it owns the meter.</param>
    public PaxosMetrics(PaxosNode node, StorageCounters? storage, IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(MeterName);
        _node = node;
        _replicaTag = new KeyValuePair<string, object?>("replica", node.Id.Value);

        var failures = Enum.GetValues<SubmitFailure>();
        _failureTags = new KeyValuePair<string, object?>[(int)failures[^1] + 1];
        foreach (var failure in failures)
        {
            _failureTags[(int)failure] = new KeyValuePair<string, object?>("error.type", failure.ToString());
        }

        _dropTags = new KeyValuePair<string, object?>[DropReasons.Length];
        for (var i = 0; i < DropReasons.Length; i++)
        {
            _dropTags[i] = new KeyValuePair<string, object?>("reason", DropReasons[i].ToString());
        }

        meter.CreateObservableCounter("paxos.updates.ordered", () => Observe(Counters().UpdatesExecuted), "{update}",
            "Client updates this replica executed in the global order (no-ops and suppressed duplicates excluded).");
        meter.CreateObservableCounter("paxos.proposals.sent", () => Observe(Counters().ProposalsSent), "{proposal}",
            "Proposal messages this replica sent as leader, each once (retransmissions excluded).");
        meter.CreateObservableCounter("paxos.proposals.retransmitted", () => Observe(Counters().ProposalsRetransmitted), "{proposal}",
            "Proposal messages the leader sent again after a timeout.");
        meter.CreateObservableCounter("paxos.view_changes", () => Observe(Counters().ViewChangesStarted), "{view_change}",
            "Times this replica suspected the leader (or started) and began a leader election for a new view.");
        meter.CreateObservableCounter("paxos.views.installed", () => Observe(Counters().ViewsInstalled), "{view}",
            "Views this replica installed, as leader or not: elections that ended.");
        meter.CreateObservableCounter("paxos.views.led", () => Observe(Counters().ViewsLed), "{view}",
            "Views this replica became the prepared leader of: elections it won.");
        meter.CreateObservableCounter("paxos.messages.dropped", () => ObserveDrops(Counters()), "{message}",
            "Peer messages the replica ignored, by reason (stale view, duplicate, outside the window, ...).");
        meter.CreateObservableCounter("paxos.inbox.dropped", () => Observe(node.MessagesDroppedInboxFull), "{message}",
            "Peer messages dropped because the node's inbox was full (the protocol retransmits them).");
        meter.CreateObservableGauge("paxos.inbox.depth", () => Observe(node.InboxDepth), "{input}",
            "Peer messages, submissions and reads waiting in the node's inbox.");

        _submitDuration = meter.CreateHistogram("paxos.submit.duration", "s",
            "From SubmitAsync to its answer, for submissions the node answered (executed, or failed with error.type set).",
            tags: null, new InstrumentAdvice<double> { HistogramBucketBoundaries = SecondsBuckets });
        _fsyncDuration = meter.CreateHistogram("paxos.storage.fsync.duration", "s",
            "Each fsync of the file log: segments, the view file, directories.",
            tags: null, new InstrumentAdvice<double> { HistogramBucketBoundaries = SecondsBuckets });
        _fsyncUpdates = meter.CreateHistogram("paxos.storage.fsync.updates", "{update}",
            "Client updates in the Proposals made durable by one synced write of the file log (group commit; no-ops excluded).",
            tags: null, new InstrumentAdvice<int> { HistogramBucketBoundaries = UpdateBuckets });

        if (storage is not null)
        {
            storage.FsyncObserved = RecordFsync;
        }
    }

    /// <summary>The replica's counters for a collection: a copy at most <see cref="CountersReuse"/> old.</summary>
    private ReplicaCounters Counters()
    {
        lock (_countersGate)
        {
            var now = Stopwatch.GetTimestamp();
            if (_counters is null || Stopwatch.GetElapsedTime(_countersTakenAt, now) > CountersReuse)
            {
                _counters = _node.GetCounters();
                _countersTakenAt = now;
            }

            return _counters;
        }
    }

    /// <summary>Whether submissions should be timed: read by <see cref="PaxosNode.SubmitAsync"/> before it takes a
    /// timestamp.</summary>
    public bool TimesSubmissions => _submitDuration.Enabled;

    /// <summary>Records a submission's answer: <paramref name="error"/> is null when it executed.</summary>
    public void SubmitAnswered(long startedAt, Exception? error)
    {
        var seconds = Stopwatch.GetElapsedTime(startedAt).TotalSeconds;
        if (error is null)
        {
            _submitDuration.Record(seconds, _replicaTag);
        }
        else
        {
            var failure = error is PaxosSubmitException submit && (int)submit.Reason is > 0 and var index && index < _failureTags.Length
                ? _failureTags[index]
                : new KeyValuePair<string, object?>("error.type", error.GetType().FullName);
            _submitDuration.Record(seconds, _replicaTag, failure);
        }
    }

    /// <summary>Records how many client updates of Proposals one synced write made durable (no-ops are not counted);
    /// writes that needed no fsync are not recorded.</summary>
    public void RecordSyncedWrite(ReadOnlySpan<OutputBatch> batches)
    {
        if (!_fsyncUpdates.Enabled)
        {
            return;
        }

        var synced = false;
        var updates = 0;
        foreach (var batch in batches)
        {
            synced |= batch.RequiresSync;
            var proposals = batch.AcceptedProposals;
            for (var i = 0; i < proposals.Count; i++)
            {
                var slots = proposals[i].Updates;
                for (var j = 0; j < slots.Count; j++)
                {
                    updates += slots[j].IsNoOp ? 0 : 1;
                }
            }
        }

        if (synced)
        {
            _fsyncUpdates.Record(updates, _replicaTag);
        }
    }

    private void RecordFsync(TimeSpan elapsed)
    {
        if (_fsyncDuration.Enabled)
        {
            _fsyncDuration.Record(elapsed.TotalSeconds, _replicaTag);
        }
    }

    private Measurement<long> Observe(long value) => new(value, _replicaTag);

    /// <summary>Every reason, zeros included, so that each series exists from the start.</summary>
    private Measurement<long>[] ObserveDrops(ReplicaCounters counters)
    {
        var measurements = new Measurement<long>[DropReasons.Length];
        for (var i = 0; i < DropReasons.Length; i++)
        {
            measurements[i] = new Measurement<long>(counters.Dropped(DropReasons[i]), _replicaTag, _dropTags[i]);
        }

        return measurements;
    }
}

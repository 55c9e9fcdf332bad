using Paxos.Messages;
using Paxos.Protocol;

namespace Paxos.Tests.Messages;

/// <summary>SplitMix64, the test's own seeded generator: the same seed gives the same inputs on every
/// machine and .NET version, so a fuzzer failure always reproduces.</summary>
internal sealed class TestRandom(ulong seed)
{
    private ulong _state = seed;

    public ulong Next()
    {
        var z = _state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>A number from 0 to <paramref name="bound"/> − 1.</summary>
    public int Below(int bound) => (int)(Next() % (ulong)bound);

    /// <summary>A number from <paramref name="low"/> to <paramref name="high"/>, both included.</summary>
    public int Between(int low, int high) => low + Below(high - low + 1);

    /// <summary>True with probability <paramref name="percent"/>%.</summary>
    public bool Chance(int percent) => Below(100) < percent;

    public void Fill(Span<byte> bytes)
    {
        for (var i = 0; i < bytes.Length; i++)
        {
            bytes[i] = (byte)Next();
        }
    }
}

/// <summary>Messages to encode: hand-picked edge cases of every type, and random ones.</summary>
internal static class MessageSamples
{
    public const int ClusterSize = 5;

    private static readonly ReplicaId First = new(0);
    private static readonly ReplicaId Last = new(ClusterSize - 1);

    public static ClientUpdate Update(long client, long timestamp, string payload = "", int origin = -1) =>
        new(new ClientId(client), timestamp, System.Text.Encoding.UTF8.GetBytes(payload), new ReplicaId(origin), validate: false);

    /// <summary>Every message type, with the edge cases a codec gets wrong: ids 0 and N−1, the largest
    /// values, no-ops, empty payloads, empty lists and a payload that fills the body exactly.</summary>
    public static IEnumerable<(string Name, PaxosMessage Message)> EdgeCases(int maxMessageBytes)
    {
        yield return ("ViewChange v=0 from 0", new ViewChange(First, ViewNumber.None));
        yield return ("ViewChange v=max from N-1", new ViewChange(Last, new ViewNumber(long.MaxValue)));
        yield return ("VcProof", new VcProof(new ReplicaId(2), new ViewNumber(41)));
        yield return ("VcProof from a leader", new VcProof(new ReplicaId(2), new ViewNumber(41), new SequenceNumber(long.MaxValue)));
        yield return ("RebuildQuery", new RebuildQuery(First, long.MaxValue));
        yield return ("RebuildQuery with a floor", new RebuildQuery(Last, 3, new ViewNumber(ProtocolLimits.MaxView)));
        yield return ("RebuildReply", new RebuildReply(Last, 0, new ViewNumber(long.MaxValue), new ViewNumber(7), new SequenceNumber(12)));
        yield return ("PrepareOk rebuilding", new PrepareOk(First, new ViewNumber(6), 0, 1, [], rebuilding: true));
        yield return ("Prepare", new Prepare(Last, new ViewNumber(9), new SequenceNumber(1_000_000_007)));
        yield return ("Prepare at zero", new Prepare(First, ViewNumber.None, SequenceNumber.None));
        yield return ("PrepareReject", new PrepareReject(new ReplicaId(3), new ViewNumber(long.MaxValue), new SequenceNumber(long.MaxValue)));
        yield return ("Alive", new Alive(First, new SequenceNumber(123), new ViewNumber(4)));
        yield return ("CatchUpRequest", new CatchUpRequest(Last, new SequenceNumber(5), new SequenceNumber(1029)));
        yield return ("SnapshotChunk, one byte at the end", new SnapshotChunk(First, new SequenceNumber(100_000), 1_000_001, 1_000_000, new byte[] { 0xAB }));
        yield return ("SnapshotChunk with a max payload", new SnapshotChunk(Last, new SequenceNumber(3), long.MaxValue, 0, new byte[maxMessageBytes - 28]));
        yield return ("SnapshotChunkRequest", new SnapshotChunkRequest(Last, new SequenceNumber(ProtocolLimits.MaxSequence), long.MaxValue));
        yield return ("ReadConfirmRequest", new ReadConfirmRequest(Last, new ViewNumber(ProtocolLimits.MaxView), long.MaxValue));
        yield return ("ReadConfirm at zero", new ReadConfirm(First, ViewNumber.None, 0));
        yield return ("ReadConfirm with a lease", new ReadConfirm(Last, new ViewNumber(ProtocolLimits.MaxView), long.MaxValue, long.MaxValue));
        yield return ("ReadIndexRequest", new ReadIndexRequest(First, new ViewNumber(12), 77));
        yield return ("ReadIndexReply", new ReadIndexReply(Last, new ViewNumber(12), long.MaxValue, new SequenceNumber(ProtocolLimits.MaxSequence)));
        yield return ("Accept one slot", new Accept(First, new ViewNumber(3), new SequenceNumber(17), new SequenceNumber(17)));
        yield return ("Accept range", new Accept(Last, new ViewNumber(3), new SequenceNumber(17), new SequenceNumber(80)));

        yield return ("Proposal one update", new Proposal(First, new ViewNumber(3), new SequenceNumber(17), [Update(1, 4, "hello", origin: 2)]));
        yield return ("Proposal noop", new Proposal(Last, new ViewNumber(7), new SequenceNumber(1), [ClientUpdate.NoOp]));
        yield return ("Proposal mixed", new Proposal(Last, new ViewNumber(long.MaxValue), new SequenceNumber(long.MaxValue - 5),
        [
            Update(long.MaxValue, long.MaxValue, "x", origin: ClusterSize - 1),
            ClientUpdate.NoOp,
            Update(2, 1, "", origin: 0),
            Update(3, 9, "payload with bytes", origin: -1),
        ]));
        yield return ("Proposal max payload", new Proposal(First, new ViewNumber(1), new SequenceNumber(1),
            [Update(8, 1, new string('p', maxMessageBytes - 21 - MessageSizes.UpdateOverheadBytes), origin: 1)]));

        yield return ("GloballyOrderedUpdate none", new GloballyOrderedUpdate(Last, new SequenceNumber(99), []));
        yield return ("GloballyOrderedUpdate some", new GloballyOrderedUpdate(First, new SequenceNumber(5),
            [ClientUpdate.NoOp, Update(1, 1, "a", origin: 0), Update(1, 2, "", origin: 4), ClientUpdate.NoOp]));

        yield return ("ClientUpdateForward one", new ClientUpdateForward(Last, [Update(6, 2, "fwd", origin: ClusterSize - 1)]));
        yield return ("ClientUpdateForward max payload", new ClientUpdateForward(First,
            [Update(1, 1, new string('f', maxMessageBytes - 4 - MessageSizes.UpdateOverheadBytes), origin: 0)]));

        yield return ("PrepareOk empty", new PrepareOk(First, new ViewNumber(6), 0, 1, []));
        yield return ("PrepareOk mixed", new PrepareOk(Last, new ViewNumber(6), 1, 3,
        [
            new DataListEntry(new SequenceNumber(10), ViewNumber.None, true, Update(1, 7, "ordered", origin: 2)),
            new DataListEntry(new SequenceNumber(11), new ViewNumber(5), false, Update(2, 3, "proposed", origin: -1)),
            new DataListEntry(new SequenceNumber(12), new ViewNumber(4), false, ClientUpdate.NoOp),
            new DataListEntry(new SequenceNumber(13), ViewNumber.None, true, ClientUpdate.NoOp),
        ]));
    }

    /// <summary>A random valid message whose body fits <paramref name="maxBodyBytes"/>. Values are mostly
    /// small (so a replica fed them reacts), sometimes at the edges of their range.</summary>
    public static PaxosMessage Random(TestRandom random, int clusterSize, int maxBodyBytes)
    {
        var sender = new ReplicaId(random.Below(clusterSize));
        var budget = maxBodyBytes - MessageSizes.HeaderBytes;
        switch (random.Between(1, 20))
        {
            case 1: return new ViewChange(sender, View(random));
            case 2: return new VcProof(sender, View(random));
            case 3: return new Prepare(sender, View(random), Sequence(random));
            case 4: return new PrepareReject(sender, View(random), Sequence(random));
            case 5: return new Alive(sender, Sequence(random), View(random));
            case 6: return new CatchUpRequest(sender, Sequence(random), Sequence(random));
            case 7:
                var first = Sequence(random);
                return new Accept(sender, View(random), first, random.Chance(80) && first.Value < 1000 ? new SequenceNumber(first.Value + random.Below(4)) : Sequence(random));
            case 8: return new Proposal(sender, View(random), Sequence(random), Updates(random, clusterSize, 1, ref budget));
            case 9: return new GloballyOrderedUpdate(sender, Sequence(random), Updates(random, clusterSize, 0, ref budget));
            case 10: return new ClientUpdateForward(sender, Updates(random, clusterSize, 1, ref budget));
            case 11: return new RebuildQuery(sender, Value(random), View(random));
            case 12: return new RebuildReply(sender, Value(random), View(random), View(random), Sequence(random));
            case 13:
                var data = new byte[random.Between(1, Math.Max(2, Math.Min(budget - 28, 300)))];
                var offset = (long)random.Below(1_000_000);
                return new SnapshotChunk(sender, Sequence(random), offset + data.Length + random.Below(1000), offset, data);
            case 14: return new SnapshotChunkRequest(sender, Sequence(random), Value(random));
            case 15: return new ReadConfirmRequest(sender, View(random), Value(random));
            case 16: return new ReadConfirm(sender, View(random), Value(random), Value(random));
            case 17: return new ReadIndexRequest(sender, View(random), Value(random));
            case 18: return new ReadIndexReply(sender, View(random), Value(random), Sequence(random));
            default:
                var partCount = random.Chance(70) ? 1 : random.Between(1, 5);
                return new PrepareOk(sender, View(random), random.Below(partCount), partCount, Entries(random, clusterSize, ref budget), random.Chance(10));
        }
    }

    public static long Value(TestRandom random) => random.Below(100) switch
    {
        < 70 => random.Below(12),
        < 85 => random.Below(2000),
        < 95 => (long)(random.Next() >> 1),
        _ => long.MaxValue - random.Below(3),
    };

    private static ViewNumber View(TestRandom random) => new(Value(random));

    private static SequenceNumber Sequence(TestRandom random) => new(Value(random));

    private static ClientUpdate[] Updates(TestRandom random, int clusterSize, int minimumCount, ref int budget)
    {
        var count = random.Chance(10) ? random.Between(minimumCount, 40) : random.Between(minimumCount, 5);
        var updates = new List<ClientUpdate>();
        while (updates.Count < count && (budget >= MessageSizes.UpdateOverheadBytes || updates.Count < minimumCount))
        {
            updates.Add(RandomUpdate(random, clusterSize, ref budget));
        }

        return [.. updates];
    }

    private static DataListEntry[] Entries(TestRandom random, int clusterSize, ref int budget)
    {
        var count = random.Chance(10) ? random.Between(0, 30) : random.Between(0, 4);
        var entries = new List<DataListEntry>();
        while (entries.Count < count && budget >= MessageSizes.EntryOverheadBytes + MessageSizes.UpdateOverheadBytes)
        {
            budget -= MessageSizes.EntryOverheadBytes;
            var ordered = random.Chance(40);
            entries.Add(new DataListEntry(Sequence(random), ordered ? ViewNumber.None : View(random), ordered, RandomUpdate(random, clusterSize, ref budget)));
        }

        return [.. entries];
    }

    private static ClientUpdate RandomUpdate(TestRandom random, int clusterSize, ref int budget)
    {
        budget -= MessageSizes.UpdateOverheadBytes;
        if (random.Chance(15))
        {
            return ClientUpdate.NoOp;
        }

        var length = Math.Max(0, Math.Min(budget, random.Chance(10) ? random.Below(600) : random.Below(24)));
        budget -= length;
        var payload = new byte[length];
        random.Fill(payload);
        return new ClientUpdate(
            new ClientId(random.Chance(80) ? random.Between(1, 6) : 1 + (long)(random.Next() >> 2)),
            random.Chance(80) ? random.Between(1, 12) : 1 + (long)(random.Next() >> 2),
            payload,
            new ReplicaId(random.Between(-1, clusterSize - 1)),
            validate: false);
    }
}

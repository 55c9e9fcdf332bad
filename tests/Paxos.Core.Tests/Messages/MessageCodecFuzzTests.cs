using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Paxos.Messages;
using Paxos.Protocol;

namespace Paxos.Tests.Messages;

/// <summary>
/// A seeded mutation fuzzer for <see cref="MessageCodec.TryDecode"/> and, behind it, for
/// <see cref="PaxosReplica.Step"/>: nothing a peer sends may throw out of the decoder, and nothing that
/// decodes may throw out of, or fault, a replica (DESIGN.md §4).
/// </summary>
public class MessageCodecFuzzTests
{
    private const ulong Seed = 0x5EED_C0DE_2026_0001;
    private const int Inputs = 400_000;
    private const int ClusterSize = 3;
    private const uint ClusterId = 7;
    private static readonly byte[] Key = [.. Enumerable.Range(0, 24).Select(i => (byte)(0xA0 ^ i))];

    private static readonly long[] Interesting =
    [
        0, 1, 2, 3, -1, -2, 255, 256, 0x7F, 0x80, 0xFFFF, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF,
        int.MinValue, long.MaxValue, long.MinValue, long.MaxValue - 1, ClusterSize, ClusterSize - 1, 1400, 1024, 2048, 65_536,
    ];

    [Test]
    public void Mutated_frames_never_throw_and_what_decodes_re_encodes_and_never_faults_a_replica()
    {
        Run().Failures.Should().BeEmpty();
    }

    private static ReplicaHarness Run()
    {
        var crc = new MessageCodec(new MessageCodecOptions { ClusterId = ClusterId, ClusterSize = ClusterSize });
        var hmac = new MessageCodec(new MessageCodecOptions { ClusterId = ClusterId, ClusterSize = ClusterSize, ClusterKey = Key });
        var random = new TestRandom(Seed);
        var traffic = ClusterTraffic.Record(ticks: 600);
        var corpus = Corpus(crc, random, traffic.All);
        var harness = new ReplicaHarness(traffic.ToReplicaZero);
        var statuses = new int[Enum.GetValues<DecodeStatus>().Length];
        var reEncoded = new byte[crc.MaxFrameBytes + MessageCodec.MacTrailerBytes];
        var watch = Stopwatch.StartNew();

        for (var i = 0; i < Inputs; i++)
        {
            var authenticated = random.Chance(5);
            var codec = authenticated ? hmac : crc;
            var input = Mutate(random, corpus, authenticated);

            DecodeStatus status;
            PaxosMessage? message;
            try
            {
                status = codec.TryDecode(input, out message);
            }
            catch (Exception exception)
            {
                Assert.Fail($"TryDecode threw on input {i} ({Convert.ToHexString(input)}): {exception}");
                throw;
            }

            statuses[(int)status]++;
            if (status != DecodeStatus.Ok)
            {
                message.Should().BeNull();
                continue;
            }

            // What decodes re-encodes: to the same bytes (the format is canonical) and the same message.
            var length = codec.Encode(message!, reEncoded);
            if (!reEncoded.AsSpan(0, length).SequenceEqual(input))
            {
                Assert.Fail($"Input {i} ({Convert.ToHexString(input)}) decodes to {message} but re-encodes to {Convert.ToHexString(reEncoded.AsSpan(0, length))}.");
            }

            codec.TryDecode(reEncoded.AsSpan(0, length), out var again).Should().Be(DecodeStatus.Ok);
            MessageText.Full(again!).Should().Be(MessageText.Full(message!));

            harness.Feed(message!, input, random);
        }

        watch.Stop();
        var summary = Summary(harness, statuses, corpus.Count, watch.Elapsed);
        TestContext.Out.WriteLine(summary);

        // The fuzzer must reach the body decoder and the replica, not stop at the checksum.
        statuses[(int)DecodeStatus.Ok].Should().BeGreaterThan(Inputs / 10, summary);
        statuses[(int)DecodeStatus.Malformed].Should().BeGreaterThan(Inputs / 10, summary);
        foreach (var value in Enum.GetValues<DecodeStatus>())
        {
            statuses[(int)value].Should().BePositive($"the fuzzer should produce {value} at least once: {summary}");
        }

        return harness;
    }

    private static string Summary(ReplicaHarness harness, int[] statuses, int corpusFrames, TimeSpan elapsed)
    {
        var summary = new StringBuilder();
        summary.Append(CultureInfo.InvariantCulture, $"{Inputs} inputs in {elapsed.TotalSeconds:F1} s from {corpusFrames} valid frames. Statuses:");
        foreach (var value in Enum.GetValues<DecodeStatus>())
        {
            summary.Append(CultureInfo.InvariantCulture, $" {value}={statuses[(int)value]}");
        }

        summary.Append(CultureInfo.InvariantCulture, $". Replica: {harness.Fed} messages stepped into {harness.Replicas} replicas, {harness.Ticks} ticks, {harness.Batches} batches acknowledged.");
        foreach (var failure in harness.Failures)
        {
            summary.AppendLine().Append("FAILURE: ").Append(failure);
        }

        return summary.ToString();
    }

    [Test]
    public void The_recorded_cluster_traffic_reaches_normal_operation()
    {
        // The fuzzer's seeds come from a real cluster; this checks they hold the interesting messages.
        var traffic = ClusterTraffic.Record(ticks: 600);
        var types = traffic.All.Select(message => message.Type).ToHashSet();

        types.Should().Contain([MessageType.ViewChange, MessageType.Prepare, MessageType.PrepareOk, MessageType.Proposal, MessageType.Accept, MessageType.ClientUpdateForward]);
        traffic.Executed.Should().BePositive();
    }

    /// <summary>Valid frames of every type: what a real cluster sent, and random messages.</summary>
    private static List<byte[]> Corpus(MessageCodec codec, TestRandom random, IReadOnlyList<PaxosMessage> traffic)
    {
        var corpus = new List<byte[]>();
        var step = Math.Max(1, traffic.Count / 600);
        for (var i = 0; i < traffic.Count; i += step)
        {
            corpus.Add(MessageCodecTests.Encode(codec, traffic[i]));
        }

        for (var i = 0; i < 400; i++)
        {
            corpus.Add(MessageCodecTests.Encode(codec, MessageSamples.Random(random, ClusterSize, codec.MaxMessageBytes)));
        }

        return corpus;
    }

    private static byte[] Mutate(TestRandom random, List<byte[]> corpus, bool authenticated)
    {
        var frame = corpus[random.Below(corpus.Count)].ToArray();
        if (authenticated)
        {
            // HMAC mode: the body decoder behind a valid MAC, and the MAC check itself.
            var body = frame.AsSpan(MessageCodec.HeaderBytes, frame.Length - MessageCodec.HeaderBytes - MessageCodec.ChecksumTrailerBytes).ToArray();
            if (random.Chance(70))
            {
                body = MutateBody(random, corpus, body);
            }

            var keyed = Reframe(frame, body, MessageCodec.MacTrailerBytes);
            keyed[3] = 1;
            keyed = MessageCodecRejectionTests.WithMac(keyed, Key);
            if (random.Chance(20))
            {
                keyed[random.Below(keyed.Length)] ^= (byte)(1 << random.Below(8));
            }

            return keyed;
        }

        switch (random.Below(100))
        {
            case < 5:
                return frame;
            case < 15:
                return FlipBits(random, frame);
            case < 22:
                return SetBytes(random, frame);
            case < 27:
                return frame[..random.Below(frame.Length)];
            case < 31:
                return [.. frame, .. RandomBytes(random, random.Between(1, 40))];
            case < 36:
                return Splice(random, frame, corpus[random.Below(corpus.Count)], fix: random.Chance(50));
            case < 39:
                return random.Chance(50) ? RandomBytes(random, random.Below(200)) : RandomBodyFrame(random, frame);
            default:
                return MutateIntact(random, corpus, frame);
        }
    }

    /// <summary>The mutation that reaches the body decoder: change the header's type or sender or the
    /// body, then fix the declared length and recompute the CRC, so only the deliberate change is wrong.</summary>
    private static byte[] MutateIntact(TestRandom random, List<byte[]> corpus, byte[] frame)
    {
        var body = frame.AsSpan(MessageCodec.HeaderBytes, frame.Length - MessageCodec.HeaderBytes - MessageCodec.ChecksumTrailerBytes).ToArray();
        if (random.Chance(85))
        {
            body = MutateBody(random, corpus, body);
        }

        var result = Reframe(frame, body, MessageCodec.ChecksumTrailerBytes);
        if (random.Chance(12))
        {
            // Type confusion: a body read as another message type.
            result[8] = (byte)random.Between(0, 13);
        }

        if (random.Chance(8))
        {
            BinaryPrimitives.WriteUInt16LittleEndian(result.AsSpan(10), (ushort)random.Between(0, ClusterSize));
        }

        if (random.Chance(3))
        {
            result[random.Between(0, 9)] ^= (byte)(1 << random.Below(8));
        }

        return MessageCodecRejectionTests.WithCrc(result);
    }

    private static byte[] MutateBody(TestRandom random, List<byte[]> corpus, byte[] body)
    {
        var rounds = random.Between(1, 4);
        for (var round = 0; round < rounds; round++)
        {
            body = random.Below(8) switch
            {
                0 => FlipBits(random, body),
                1 or 2 => SetField(random, body),
                3 => SetBytes(random, body),
                4 => Insert(random, body),
                5 => Delete(random, body),
                6 => Duplicate(random, body),
                _ => Splice(random, body, BodyOf(corpus[random.Below(corpus.Count)]), fix: false),
            };
        }

        return body;
    }

    private static byte[] BodyOf(byte[] frame) =>
        frame.AsSpan(MessageCodec.HeaderBytes, frame.Length - MessageCodec.HeaderBytes - MessageCodec.ChecksumTrailerBytes).ToArray();

    private static byte[] Reframe(byte[] frame, byte[] body, int trailerBytes)
    {
        var result = new byte[MessageCodec.HeaderBytes + body.Length + trailerBytes];
        frame.AsSpan(0, MessageCodec.HeaderBytes).CopyTo(result);
        BinaryPrimitives.WriteUInt32LittleEndian(result.AsSpan(12), (uint)body.Length);
        body.CopyTo(result, MessageCodec.HeaderBytes);
        return result;
    }

    private static byte[] FlipBits(TestRandom random, byte[] bytes)
    {
        if (bytes.Length == 0)
        {
            return bytes;
        }

        var flips = random.Between(1, 3);
        for (var i = 0; i < flips; i++)
        {
            bytes[random.Below(bytes.Length)] ^= (byte)(1 << random.Below(8));
        }

        return bytes;
    }

    private static byte[] SetBytes(TestRandom random, byte[] bytes)
    {
        if (bytes.Length == 0)
        {
            return bytes;
        }

        var sets = random.Between(1, 4);
        for (var i = 0; i < sets; i++)
        {
            bytes[random.Below(bytes.Length)] = random.Chance(50) ? (byte)Interesting[random.Below(Interesting.Length)] : (byte)random.Next();
        }

        return bytes;
    }

    /// <summary>Overwrites a 1-, 4- or 8-byte field with an interesting value, often at a field-aligned
    /// offset (bodies are mostly 4- and 8-byte fields).</summary>
    private static byte[] SetField(TestRandom random, byte[] bytes)
    {
        var width = random.Below(3) switch { 0 => 1, 1 => 4, _ => 8 };
        if (bytes.Length < width)
        {
            return bytes;
        }

        var offset = random.Below(bytes.Length - width + 1);
        if (random.Chance(60))
        {
            offset -= offset % 4;
        }

        var value = random.Chance(80) ? Interesting[random.Below(Interesting.Length)] : (long)random.Next();
        switch (width)
        {
            case 1:
                bytes[offset] = (byte)value;
                break;
            case 4:
                BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(offset), (int)value);
                break;
            default:
                BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(offset), value);
                break;
        }

        return bytes;
    }

    private static byte[] Insert(TestRandom random, byte[] bytes)
    {
        var at = random.Below(bytes.Length + 1);
        var extra = RandomBytes(random, random.Chance(50) ? random.Between(1, 4) : random.Between(1, 48));
        return [.. bytes.AsSpan(0, at), .. extra, .. bytes.AsSpan(at)];
    }

    private static byte[] Delete(TestRandom random, byte[] bytes)
    {
        if (bytes.Length == 0)
        {
            return bytes;
        }

        var at = random.Below(bytes.Length);
        var count = Math.Min(bytes.Length - at, random.Chance(50) ? random.Between(1, 4) : random.Between(1, 48));
        return [.. bytes.AsSpan(0, at), .. bytes.AsSpan(at + count)];
    }

    private static byte[] Duplicate(TestRandom random, byte[] bytes)
    {
        if (bytes.Length == 0 || bytes.Length > 1200)
        {
            return bytes;
        }

        var at = random.Below(bytes.Length);
        var count = Math.Min(bytes.Length - at, random.Between(1, 64));
        return [.. bytes.AsSpan(0, at + count), .. bytes.AsSpan(at, count), .. bytes.AsSpan(at + count)];
    }

    /// <summary>The start of one byte string and the end of another; for frames, <paramref name="fix"/>
    /// repairs the declared length and CRC so the spliced body is decoded.</summary>
    private static byte[] Splice(TestRandom random, byte[] first, byte[] second, bool fix)
    {
        var head = random.Below(first.Length + 1);
        var tail = random.Below(second.Length + 1);
        byte[] result = [.. first.AsSpan(0, head), .. second.AsSpan(tail)];
        if (!fix || result.Length < MessageCodec.HeaderBytes + MessageCodec.ChecksumTrailerBytes)
        {
            return result;
        }

        BinaryPrimitives.WriteUInt32LittleEndian(result.AsSpan(12), (uint)(result.Length - MessageCodec.HeaderBytes - MessageCodec.ChecksumTrailerBytes));
        return MessageCodecRejectionTests.WithCrc(result);
    }

    private static byte[] RandomBodyFrame(TestRandom random, byte[] frame) =>
        MessageCodecRejectionTests.WithCrc(Reframe(frame, RandomBytes(random, random.Below(120)), MessageCodec.ChecksumTrailerBytes));

    private static byte[] RandomBytes(TestRandom random, int length)
    {
        var bytes = new byte[length];
        random.Fill(bytes);
        return bytes;
    }

    /// <summary>Feeds decoded messages to a real replica (id 0 of 3), with ticks and acknowledged batches
    /// in between, and records every exception or fault with the input that caused it. Every few thousand
    /// messages it starts a new replica, half the time warmed up by the recorded cluster's traffic to it,
    /// so the fuzzed messages meet both a replica in leader election and one in normal operation.</summary>
    private sealed class ReplicaHarness(IReadOnlyList<PaxosMessage> warmUp)
    {
        private const int MessagesPerReplica = 4000;
        private PaxosReplica? _replica;
        private int _sinceStart;

        public List<string> Failures { get; } = [];

        public int Fed { get; private set; }

        public int Replicas { get; private set; }

        public long Ticks { get; private set; }

        public long Batches { get; private set; }

        public void Feed(PaxosMessage message, byte[] frame, TestRandom random)
        {
            if (_replica is null || _sinceStart >= MessagesPerReplica)
            {
                Start(warm: random.Chance(50));
            }

            Fed++;
            _sinceStart++;
            try
            {
                _replica!.Step(message);
                if (random.Chance(10))
                {
                    var ticks = random.Chance(10) ? random.Between(20, 150) : 1;
                    for (var i = 0; i < ticks; i++)
                    {
                        _replica.Tick();
                        Ticks++;
                    }
                }

                if (random.Chance(25))
                {
                    Flush();
                }
            }
            catch (Exception exception)
            {
                if (Failures.Count < 5)
                {
                    Failures.Add($"{message} ({MessageText.Full(message)}), frame {Convert.ToHexString(frame)}, replica {_replica!.Status}: {exception}");
                }

                _replica = null;
                return;
            }

            if (_replica.IsFaulted && Failures.Count < 5)
            {
                Failures.Add($"faulted without throwing after {message} ({MessageText.Full(message)}), frame {Convert.ToHexString(frame)}");
                _replica = null;
            }
        }


        private void Start(bool warm)
        {
            _replica = new PaxosReplica(new ProtocolOptions { ReplicaId = 0, ClusterSize = ClusterSize }, new NullExecutor());
            _sinceStart = 0;
            Replicas++;
            if (!warm)
            {
                return;
            }

            foreach (var message in warmUp)
            {
                _replica.Step(message);
                Flush();
            }
        }

        private void Flush()
        {
            var batch = _replica!.TakeOutput();
            if (batch.Number > 0)
            {
                _replica.AcknowledgePersisted(batch.Number);
                Batches++;
            }
        }
    }

    /// <summary>Runs a healthy three-replica cluster in memory and records every message it sends.</summary>
    private sealed class ClusterTraffic
    {
        public List<PaxosMessage> All { get; } = [];

        public List<PaxosMessage> ToReplicaZero { get; } = [];

        public long Executed { get; private set; }

        public static ClusterTraffic Record(int ticks)
        {
            var traffic = new ClusterTraffic();
            var executor = new NullExecutor();
            var replicas = new PaxosReplica[ClusterSize];
            for (var id = 0; id < ClusterSize; id++)
            {
                replicas[id] = new PaxosReplica(new ProtocolOptions { ReplicaId = id, ClusterSize = ClusterSize }, executor, seed: (ulong)id);
            }

            var payload = new TestRandom(99);
            for (var tick = 0; tick < ticks; tick++)
            {
                foreach (var replica in replicas)
                {
                    replica.Tick();
                }

                if (tick % 2 == 0)
                {
                    var bytes = new byte[payload.Below(40)];
                    payload.Fill(bytes);
                    replicas[tick / 2 % ClusterSize].Submit(new ClientUpdate(new ClientId(1 + tick), 1, bytes));
                }

                traffic.Exchange(replicas);
            }

            traffic.Executed = executor.Executed;
            return traffic;
        }

        private void Exchange(PaxosReplica[] replicas)
        {
            // Deliver until the cluster is quiet, so a round trip completes within one tick.
            for (var round = 0; round < 10; round++)
            {
                var inFlight = new List<(int To, PaxosMessage Message)>();
                foreach (var replica in replicas)
                {
                    var batch = replica.TakeOutput();
                    if (batch.Number > 0)
                    {
                        replica.AcknowledgePersisted(batch.Number);
                    }

                    foreach (var outbound in batch.ImmediateMessages.Concat(batch.Messages))
                    {
                        for (var to = 0; to < replicas.Length; to++)
                        {
                            if (to != outbound.Message.Sender.Value && (outbound.IsBroadcast || outbound.Destination.Value == to))
                            {
                                inFlight.Add((to, outbound.Message));
                            }
                        }
                    }
                }

                if (inFlight.Count == 0)
                {
                    return;
                }

                foreach (var (to, message) in inFlight)
                {
                    All.Add(message);
                    if (to == 0)
                    {
                        ToReplicaZero.Add(message);
                    }

                    replicas[to].Step(message);
                }
            }
        }
    }

    private sealed class NullExecutor : IExecutor
    {
        public long Executed { get; private set; }

        public ReadOnlyMemory<byte> Execute(in OrderedUpdate update)
        {
            Executed++;
            return ReadOnlyMemory<byte>.Empty;
        }
    }
}

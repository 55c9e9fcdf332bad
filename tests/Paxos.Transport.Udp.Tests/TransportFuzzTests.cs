using System.Buffers.Binary;
using System.Diagnostics;
using System.Net.Sockets;
using Paxos.Messages;
using Paxos.Hosting;
using Paxos.Protocol;
using Paxos.Storage;
using Paxos.Transport;
using Paxos.Testing;
using Paxos.Transport.Udp.Tests.Support;

namespace Paxos.Transport.Udp.Tests;

/// <summary>
/// TESTING.md level 5 over a real socket: tens of thousands of seeded mutations of valid coalesced datagrams
/// (bit flips, truncations, splices, CRC-repaired body and header changes, wrong sources, garbage) go over
/// loopback into a live transport whose receiver steps a real <see cref="PaxosReplica"/>. Nothing may escape,
/// the loop must stay alive, and every datagram must be accounted for.
/// </summary>
[TestFixture]
public sealed class TransportFuzzTests
{
    private const ulong Seed = 0x5EED_0D0F_F00DUL;
    private const int Datagrams = 20_000;
    private const int Window = 250;
    private static readonly TimeSpan Budget = TimeSpan.FromSeconds(15);

    [Test]
    public async Task Mutated_datagrams_never_escape_the_receive_loop_and_every_one_is_counted()
    {
        var receiver = new SteppingReceiver();
        await using var harness = await RawHarness.StartAsync(receiver: receiver);
        var random = new ChaosRandom(Seed);
        var clock = Stopwatch.StartNew();
        var mutations = new int[Mutator.Kinds];

        var sent = 0;
        while (sent < Datagrams)
        {
            // Bounded in time as well as count; on a slow machine fewer datagrams are checked, never a failure.
            if (clock.Elapsed > Budget)
            {
                TestContext.Out.WriteLine($"time budget reached after {sent} datagrams (seed {Seed:X})");
                break;
            }

            for (var i = 0; i < Window && sent < Datagrams; i++, sent++)
            {
                var (from, datagram, kind) = Mutator.Next(harness, random);
                mutations[kind]++;
                harness.Send(from, datagram);
            }

            // Pace the sender to the receiver, so the kernel drops nothing and the counts are exact.
            await harness.UntilReceivedAsync(sent);
        }

        // The loop is still alive: a good datagram after all that is delivered.
        var before = receiver.Delivered;
        harness.Send(harness.Peer1, harness.Frame(RawHarness.AliveFrom(1)));
        await Eventually.UntilAsync(() => receiver.Delivered > before, "a good datagram after the fuzzing");
        await harness.UntilReceivedAsync(sent + 1);

        var counters = harness.Transport.Counters;
        receiver.Failures.Should().BeEmpty("no message a peer sends may fault the replica (seed {0:X})", Seed);
        harness.Transport.IsReceiving.Should().BeTrue();
        counters.DatagramsReceived.Should().Be(sent + 1);
        counters.DatagramsReceived.Should().Be(counters.DatagramsDelivered + counters.ReceiveDrops, "every datagram is delivered whole or dropped once");
        counters.FramesDelivered.Should().Be(receiver.Delivered);
        harness.Transport.DroppedCount(UdpDropReason.ReceiverFailed).Should().Be(0);
        mutations.Should().OnlyContain(count => count > 0, "every kind of mutation ran");
        counters.DatagramsDelivered.Should().BeGreaterThan(sent / 20, "some mutations (and the unmutated controls) stay valid");
        foreach (var reason in new[] { UdpDropReason.BadChecksum, UdpDropReason.Truncated, UdpDropReason.SenderMismatch, UdpDropReason.Malformed, UdpDropReason.BadMagic })
        {
            harness.Transport.DroppedCount(reason).Should().BeGreaterThan(0, "the fuzzer reaches {0}", reason);
        }
    }

    /// <summary>Steps a real replica with every delivered message, on the receive loop, and keeps what it throws.</summary>
    private sealed class SteppingReceiver : ITransportReceiver
    {
        private readonly PaxosReplica _replica;
        private readonly ReplicaDriver _driver;
        private long _delivered;

        public SteppingReceiver()
        {
            _replica = new(new ProtocolOptions { ReplicaId = 0, ClusterSize = RawHarness.ClusterSize, MaxMessageBytes = 1400 }, new OrderRecorder(), seed: Seed);
            _driver = new ReplicaDriver(_replica, new InMemoryReplicaStorage(), new DiscardingTransport(), RawHarness.ClusterSize);
        }

        public List<string> Failures { get; } = [];

        public long Delivered => Interlocked.Read(ref _delivered);

        public void Receive(PaxosMessage message)
        {
            Interlocked.Increment(ref _delivered);
            if (_replica.IsFaulted)
            {
                return;
            }

            try
            {
                _driver.Step(message);
                if (_delivered % 7 == 0)
                {
                    _driver.Tick();
                }

                _driver.Drain();
            }
            catch (Exception exception)
            {
                lock (Failures)
                {
                    Failures.Add($"{message}: {exception}");
                }
            }
        }
    }

    /// <summary>Where the stepped replica's answers go: nowhere (the fuzzer only checks that nothing faults it).</summary>
    private sealed class DiscardingTransport : ITransport
    {
        public ValueTask StartAsync(ITransportReceiver receiver, CancellationToken cancellationToken = default) => ValueTask.CompletedTask;

        public void Send(ReplicaId destination, PaxosMessage message)
        {
        }

        public void Flush()
        {
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    /// <summary>Builds valid coalesced datagrams from senders 1 and 2 and mutates them.</summary>
    private static class Mutator
    {
        public const int Kinds = 9;

        public static (Socket From, byte[] Datagram, int Kind) Next(RawHarness harness, ChaosRandom random)
        {
            var sender = 1 + random.Below(2);
            var (datagram, frames) = Coalesced(harness, random, sender);
            var from = sender == 1 ? harness.Peer1 : harness.Peer2;
            var kind = random.Below(Kinds);
            switch (kind)
            {
                case 0:
                    break; // A control: unmutated.
                case 1:
                    for (var flips = random.Between(1, 8); flips > 0; flips--)
                    {
                        datagram[random.Below(datagram.Length)] ^= (byte)(1 << random.Below(8));
                    }

                    break;
                case 2:
                    datagram = datagram[..random.Below(datagram.Length)];
                    break;
                case 3:
                    var (other, _) = Coalesced(harness, random, sender);
                    datagram = [.. datagram[..random.Below(datagram.Length)], .. other[random.Below(other.Length)..]];
                    break;
                case 4:
                    MutateBody(datagram, frames, random);
                    break;
                case 5:
                    MutateHeader(datagram, frames, random);
                    break;
                case 6:
                    datagram = new byte[random.Between(1, 1472)];
                    random.Fill(datagram);
                    break;
                case 7:
                    from = sender == 1 ? harness.Peer2 : harness.Peer1; // The right frames from the wrong endpoint.
                    break;
                default:
                    var tail = new byte[random.Between(1, 40)];
                    random.Fill(tail);
                    datagram = [.. datagram, .. tail];
                    break;
            }

            return (from, datagram, kind);
        }

        /// <summary>One to four frames of one sender, back to back within a datagram, and where each starts.</summary>
        private static (byte[] Datagram, List<(int Offset, int Length)> Frames) Coalesced(RawHarness harness, ChaosRandom random, int sender)
        {
            var datagram = new List<byte>();
            var frames = new List<(int, int)>();
            for (var count = random.Between(1, 4); count > 0; count--)
            {
                var frame = harness.Frame(Message(random, new ReplicaId(sender)));
                if (datagram.Count + frame.Length > harness.Options.MaxDatagramBytes)
                {
                    break;
                }

                frames.Add((datagram.Count, frame.Length));
                datagram.AddRange(frame);
            }

            return ([.. datagram], frames);
        }

        /// <summary>Changes one to four covered bytes of one frame, then repairs its CRC: the frame reaches the body parser.</summary>
        private static void MutateBody(byte[] datagram, List<(int Offset, int Length)> frames, ChaosRandom random)
        {
            var (offset, length) = frames[random.Below(frames.Count)];
            var frame = datagram.AsSpan(offset, length);
            for (var changes = random.Between(1, 4); changes > 0; changes--)
            {
                var at = length - 4 > 16 ? random.Between(16, length - 5) : random.Below(length - 4);
                frame[at] = (byte)random.Next();
            }

            TestCrc32C.Repair(frame);
        }

        /// <summary>Sets one header field of one frame to a random value, then repairs its CRC.</summary>
        private static void MutateHeader(byte[] datagram, List<(int Offset, int Length)> frames, ChaosRandom random)
        {
            var (offset, length) = frames[random.Below(frames.Count)];
            var frame = datagram.AsSpan(offset, length);
            switch (random.Below(5))
            {
                case 0:
                    frame[8] = (byte)random.Below(16); // type
                    break;
                case 1:
                    BinaryPrimitives.WriteUInt16LittleEndian(frame[10..], (ushort)random.Below(5)); // sender
                    break;
                case 2:
                    BinaryPrimitives.WriteUInt32LittleEndian(frame[12..], (uint)random.Below(length)); // body length
                    break;
                case 3:
                    frame[9] = (byte)(2 + random.Below(3)); // cluster size: 2, this cluster's 3, or 4
                    break;
                default:
                    BinaryPrimitives.WriteUInt32LittleEndian(frame[4..], RawHarness.ClusterId + (uint)random.Below(2)); // cluster
                    break;
            }

            TestCrc32C.Repair(frame);
        }

        private static PaxosMessage Message(ChaosRandom random, ReplicaId sender)
        {
            var view = new ViewNumber(random.Between(1, 4));
            var sequence = new SequenceNumber(random.Between(1, 40));
            return random.Below(11) switch
            {
                0 => new ViewChange(sender, view),
                1 => new VcProof(sender, view),
                2 => new Prepare(sender, view, sequence),
                3 => new PrepareOk(sender, view, 0, 1, [new DataListEntry(sequence, view, random.Below(2) == 0, Update(random))]),
                4 => new PrepareReject(sender, view, sequence),
                5 => new Proposal(sender, view, sequence, [Update(random), Update(random)]),
                6 => new Accept(sender, view, sequence, new SequenceNumber(sequence.Value + random.Below(3))),
                7 => new GloballyOrderedUpdate(sender, sequence, [Update(random)]),
                8 => new ClientUpdateForward(sender, [Update(random)]),
                9 => new Alive(sender, sequence, view),
                _ => new CatchUpRequest(sender, sequence, new SequenceNumber(sequence.Value + random.Below(10))),
            };
        }

        private static ClientUpdate Update(ChaosRandom random)
        {
            var payload = new byte[random.Below(64)];
            random.Fill(payload);
            return new ClientUpdate(new ClientId(random.Between(1, 5)), random.Between(1, 30), payload);
        }
    }
}

using Paxos.Messages;
using Paxos.Protocol;

namespace Paxos.Tests.Messages;

/// <summary>
/// Regressions for faults of <see cref="PaxosReplica"/> that the codec fuzzer found: each test steps the
/// exact datagram (decoded by a <see cref="MessageCodec"/> of cluster 7, three replicas, CRC mode; frames found
/// under format version 1 were rewritten to version 2, which carries the cluster size in byte 9) into a
/// fresh replica 0 of 3 with default options. DESIGN.md §4 says nothing a peer sends may crash a replica:
/// views and sequence numbers above <see cref="ProtocolLimits"/> are dropped as malformed, and a conflicting
/// ordered binding from a peer is dropped and counted as <see cref="DropReason.ConflictingOrder"/>.
/// </summary>
public class FuzzerRegressionTests
{
    private static readonly MessageCodec Codec = new(new MessageCodecOptions { ClusterId = 7, ClusterSize = 3 });

    [Test]
    public void A_ViewChange_for_view_long_MaxValue_is_dropped_as_malformed()
    {
        // ViewChange from replica 1, attempted = 0x7FFFFFFFFFFFFFFF.
        var replica = Replica();

        Step(replica, "50580200070000000103010008000000FFFFFFFFFFFFFF7F16679315");
        RunTicks(replica, 400);

        replica.IsFaulted.Should().BeFalse();
        replica.Counters.Dropped(DropReason.Malformed).Should().Be(1);
    }

    [Test]
    public void A_VcProof_for_view_long_MaxValue_is_dropped_as_malformed()
    {
        // VcProof from replica 1, installed = 0x7FFFFFFFFFFFFFFF, last proposed = 0.
        var replica = Replica();

        Step(replica, "50580200070000000203010010000000FFFFFFFFFFFFFF7F000000000000000017113850");
        RunTicks(replica, 400);

        replica.IsFaulted.Should().BeFalse();
        replica.Counters.Dropped(DropReason.Malformed).Should().Be(1);
    }

    [Test]
    public void A_GloballyOrderedUpdate_conflicting_with_an_ordered_slot_is_dropped_and_counted()
    {
        var replica = Replica();

        // Replica 1: slot 2 is c1#1 (payload 01). Slot 1 is unknown, so slot 2 stays above Local_Aru.
        Step(replica, "5058020007000000080301002500000002000000000000000100000001000000000000000100000000000000FFFFFFFF0100000001F0ADFA9D");

        // Replica 2: slot 2 is c2#1 (payload 02).
        var act = () => Step(replica, "5058020007000000080302002500000002000000000000000100000002000000000000000100000000000000FFFFFFFF0100000002E108F64F");

        act.Should().NotThrow();
        replica.IsFaulted.Should().BeFalse();
        replica.Counters.Dropped(DropReason.ConflictingOrder).Should().Be(1);
    }

    private static PaxosReplica Replica() =>
        new(new ProtocolOptions { ReplicaId = 0, ClusterSize = 3 }, new NullExecutor());

    private static void Step(PaxosReplica replica, string frame)
    {
        Codec.TryDecode(Convert.FromHexString(frame), out var message).Should().Be(DecodeStatus.Ok);
        replica.Step(message!);
    }

    private static void RunTicks(PaxosReplica replica, int ticks)
    {
        for (var i = 0; i < ticks; i++)
        {
            replica.Tick();
            var batch = replica.TakeOutput();
            if (batch.Number > 0)
            {
                replica.AcknowledgePersisted(batch.Number);
            }
        }
    }

    private sealed class NullExecutor : IExecutor
    {
        public ReadOnlyMemory<byte> Execute(in OrderedUpdate update) => ReadOnlyMemory<byte>.Empty;
    }
}

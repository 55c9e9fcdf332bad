using Paxos.Messages;
using Paxos.Protocol;

using static Paxos.Tests.Paper.ReplicaFixture;

namespace Paxos.Tests.Paper;

/// <summary>PROTOCOL.md §9.6 variant 1 (TR §4.4, §6.1): the leader sends its Proposal before its own write, so
/// its write runs in parallel with its peers', and acknowledges it with an explicit Accept once durable.</summary>
public class LeaderSendsAcceptTests
{
    [Test]
    public void The_leader_sends_a_Proposal_at_once_and_its_Accept_only_once_its_write_is_durable()
    {
        var leader = LeaderOfView1(configure: o => o.LeaderSendsAccept = true);
        leader.AutoAcknowledge = false;
        leader.Clear();

        leader.Replica.Submit(U(1, 1));
        var proposing = leader.Flush();

        var proposal = proposing.ImmediateMessages.Select(m => m.Message).OfType<Proposal>().Should().ContainSingle().Subject;
        proposal.ImpliesLeaderAcceptance.Should().BeFalse();
        proposing.AcceptedProposals.Should().ContainSingle().Which.Should().BeSameAs(proposal);
        proposing.Messages.Select(m => m.Message).OfType<Accept>().Should().BeEmpty();

        leader.Replica.AcknowledgePersisted(proposing.Number);
        var accepting = leader.Flush();

        accepting.ImmediateMessages.Select(m => m.Message.ToString()).Should().Equal("Accept v=1 seq=1");
    }

    [Test]
    public void An_early_Proposal_does_not_count_as_the_leaders_acceptance()
    {
        // N = 3: the leader's early Proposal plus this replica's acceptance is only one durable acceptance plus a
        // promise; the slot is ordered once the leader's Accept (or another replica's) arrives.
        var follower = NonLeaderOfView1();
        follower.Clear();

        follower.Deliver(new Proposal(R(1), V(1), S(1), [U(1, 1)], impliesLeaderAcceptance: false));
        follower.Executor.Executed.Should().BeEmpty();

        follower.Deliver(Accept(1, 1, 1));
        follower.Executor.ExecutedNames.Should().Equal("c1#1@1");
    }

    [Test]
    public void A_Proposal_that_implies_the_leaders_acceptance_still_orders_at_once()
    {
        var follower = NonLeaderOfView1();
        follower.Clear();

        follower.Deliver(new Proposal(R(1), V(1), S(1), [U(1, 1)], impliesLeaderAcceptance: true));

        follower.Executor.ExecutedNames.Should().Equal("c1#1@1");
    }

    [Test]
    public void A_retransmitted_early_Proposal_comes_with_the_leaders_Accept()
    {
        var leader = LeaderOfView1(configure: o =>
        {
            o.LeaderSendsAccept = true;
            o.ProposalRetransmitTicks = 3;
        });
        leader.Submit(U(1, 1));
        leader.Clear();

        leader.Tick(3);

        leader.Sent.Select(m => m.Message.ToString()).Should().Contain("Accept v=1 seq=1").And.Contain(m => m.StartsWith("Proposal v=1 seq=1", StringComparison.Ordinal));
    }

    [Test]
    public void Recovery_counts_only_this_replicas_own_acceptance()
    {
        // The leader may have sent its Proposal before writing it, so a recovered Proposal says nothing durable
        // about the leader's acceptance; after a restart the slot waits for acceptances in messages.
        var recovered = new PersistentState
        {
            LastInstalled = V(1),
            AcceptedProposals = [new Proposal(R(1), V(1), S(1), [U(1, 1)], impliesLeaderAcceptance: true)],
        };

        var replica = new ReplicaFixture(0, 3, recovered: recovered);

        replica.Executor.Executed.Should().BeEmpty();
        replica.Status.LocalAru.Should().Be(SequenceNumber.None);
    }
}

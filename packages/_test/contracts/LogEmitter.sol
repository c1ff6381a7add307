// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// Test fixture: emits GhostCore/TraceScan events with their exact signatures, in bulk and on demand, so that
/// the ingester's mechanics (ordering, crashes, reorgs, RPC failures) can be tested with histories of any
/// shape. Deployed twice: once standing in for GhostCore, once for TraceScan.
contract LogEmitter {
    event JackedIn(address indexed user, uint256 amount, uint8 indexed level, uint256 newTotal);
    event StakeAdded(address indexed user, uint256 amount, uint256 newTotal);
    event DeathsSubmitted(uint8 indexed level, uint256 indexed scanId, uint256 count, uint256 totalDead, address indexed submitter);

    /// n JackedIn events with distinct users derived from salt.
    function burst(uint256 n, uint256 salt) external {
        for (uint256 i = 0; i < n; i++) {
            address user = address(uint160(uint256(keccak256(abi.encode(salt, i)))));
            emit JackedIn(user, 1e18 + i, uint8(1 + (i % 5)), 1e18 + i);
            if (i % 3 == 2) emit StakeAdded(user, 1, 1e18 + i + 1);
        }
    }

    /// Same selector and argument layout as TraceScan.submitDeaths, so the ingester decodes the victims.
    function submitDeaths(uint8 level, address[] calldata users) external {
        emit DeathsSubmitted(level, 1, users.length, users.length * 1e18, msg.sender);
    }

    /// Same first return word as GhostCore.getPosition: the amount.
    function getPosition(address) external pure returns (uint256 amount) {
        return 1e18;
    }
}

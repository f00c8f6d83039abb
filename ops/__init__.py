"""Operations tooling that is not part of the service: the loopback cluster launcher."""

package main

import (
	_ "github.com/consensys/gnark/backend/groth16"
	_ "github.com/consensys/gnark/backend/groth16/bn254/mpcsetup"
	_ "github.com/consensys/gnark/std/signature/eddsa"
	_ "github.com/hashicorp/raft"
	_ "github.com/hyperledger/aries-framework-go/component/models/did"
	_ "github.com/hyperledger/aries-framework-go/component/models/verifiable"
	_ "github.com/tuneinsight/lattigo/v6/multiparty"
	_ "github.com/tuneinsight/lattigo/v6/schemes/bgv"
)

func main() {}

// SPDX-License-Identifier: Apache-2.0
import CKernelShim
import HVBlob

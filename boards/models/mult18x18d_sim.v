// A behavioural model of the ECP5 MULT18X18D multiplier, for simulating the netlists lowbit
// synthesizes (lowbit.boards.netlist); Yosys's cells_sim_ecp5.v has no MULT18X18D model (only
// the black box in cells_bb_ecp5.v).
//
// Modelled: what Yosys 0.70's map (techlibs/lattice/dsp_map_18x18.v) instantiates, and what
// lowbit.boards.outreg changes in it: P = A * B over 36 bits, each operand signed when its
// SIGNEDx pin is 1; the input registers (REG_INPUTA_CLK / REG_INPUTB_CLK) and the output
// register (REG_OUTPUT_CLK) either off ("NONE") or on CLK0 with enable CE0 and synchronous
// reset RST0, starting from 0 (GSR).
// Not modelled, and refused by lowbit.boards.netlist before a netlist reaches a simulator:
// the pipeline and C registers, clocks, enables and resets other than CLK0/CE0/RST0, SOURCEA
// and SOURCEB other than 0 (the shift chains), the ALU54B cascade.
module MULT18X18D(
  input A17, A16, A15, A14, A13, A12, A11, A10, A9, A8, A7, A6, A5, A4, A3, A2, A1, A0,
  input B17, B16, B15, B14, B13, B12, B11, B10, B9, B8, B7, B6, B5, B4, B3, B2, B1, B0,
  input C17, C16, C15, C14, C13, C12, C11, C10, C9, C8, C7, C6, C5, C4, C3, C2, C1, C0,
  input SIGNEDA, SIGNEDB, SOURCEA, SOURCEB,
  input CLK3, CLK2, CLK1, CLK0, CE3, CE2, CE1, CE0, RST3, RST2, RST1, RST0,
  output P35, P34, P33, P32, P31, P30, P29, P28, P27, P26, P25, P24, P23, P22, P21, P20, P19, P18, P17, P16, P15, P14, P13, P12, P11, P10, P9, P8, P7, P6, P5, P4, P3, P2, P1, P0,
  output SIGNEDP
);
  parameter REG_INPUTA_CLK = "NONE";
  parameter REG_INPUTA_CE = "CE0";
  parameter REG_INPUTA_RST = "RST0";
  parameter REG_INPUTB_CLK = "NONE";
  parameter REG_INPUTB_CE = "CE0";
  parameter REG_INPUTB_RST = "RST0";
  parameter REG_INPUTC_CLK = "NONE";
  parameter REG_INPUTC_CE = "CE0";
  parameter REG_INPUTC_RST = "RST0";
  parameter REG_PIPELINE_CLK = "NONE";
  parameter REG_PIPELINE_CE = "CE0";
  parameter REG_PIPELINE_RST = "RST0";
  parameter REG_OUTPUT_CLK = "NONE";
  parameter REG_OUTPUT_CE = "CE0";
  parameter REG_OUTPUT_RST = "RST0";
  parameter CLK0_DIV = "ENABLED";
  parameter CLK1_DIV = "ENABLED";
  parameter CLK2_DIV = "ENABLED";
  parameter CLK3_DIV = "ENABLED";
  parameter HIGHSPEED_CLK = "NONE";
  parameter GSR = "ENABLED";
  parameter CAS_MATCH_REG = "FALSE";
  parameter SOURCEB_MODE = "B_SHIFT";
  parameter MULT_BYPASS = "DISABLED";
  parameter RESETMODE = "SYNC";

  localparam REG_A = REG_INPUTA_CLK != "NONE";
  localparam REG_B = REG_INPUTB_CLK != "NONE";
  localparam REG_P = REG_OUTPUT_CLK != "NONE";

  wire [17:0] a_in = {A17, A16, A15, A14, A13, A12, A11, A10, A9, A8, A7, A6, A5, A4, A3, A2, A1, A0};
  wire [17:0] b_in = {B17, B16, B15, B14, B13, B12, B11, B10, B9, B8, B7, B6, B5, B4, B3, B2, B1, B0};
  reg [17:0] a_q, b_q;
  reg sa_q, sb_q;
  reg [35:0] p_q;
  initial begin
    a_q = 18'd0;
    b_q = 18'd0;
    sa_q = 1'b0;
    sb_q = 1'b0;
    p_q = 36'd0;
  end

  wire [17:0] a = REG_A ? a_q : a_in;
  wire [17:0] b = REG_B ? b_q : b_in;
  wire sa = REG_A ? sa_q : SIGNEDA;
  wire sb = REG_B ? sb_q : SIGNEDB;
  wire signed [18:0] ax = {sa & a[17], a};
  wire signed [18:0] bx = {sb & b[17], b};
  wire signed [37:0] full = ax * bx;
  wire [35:0] product = full[35:0];

  always @(posedge CLK0) begin
    if (RST0) begin
      a_q <= 18'd0;
      b_q <= 18'd0;
      sa_q <= 1'b0;
      sb_q <= 1'b0;
      p_q <= 36'd0;
    end else if (CE0) begin
      a_q <= a_in;
      b_q <= b_in;
      sa_q <= SIGNEDA;
      sb_q <= SIGNEDB;
      p_q <= product;
    end
  end

  wire [35:0] p = REG_P ? p_q : product;
  assign {P35, P34, P33, P32, P31, P30, P29, P28, P27, P26, P25, P24, P23, P22, P21, P20, P19, P18, P17, P16, P15, P14, P13, P12, P11, P10, P9, P8, P7, P6, P5, P4, P3, P2, P1, P0} = p;
  assign SIGNEDP = p[35];
endmodule
